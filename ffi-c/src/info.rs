//! Info families: series that are sets of labels with the value 1.

use std::sync::Arc;

use metricore::{InfoVec, Kind};

use crate::family::{self, FamilyOptions};
use crate::raw::{self, Arg, Str};
use crate::registry::{Node, Registry};
use crate::status::{guard, Fail, Status};

/// An info family, rendered as `name_info`; owned by the
/// registry object it was created through and freed with it. Safe to use from several
/// threads at once.
pub struct InfoFamily {
    node: Arc<Node>,
    vec: InfoVec,
}

impl InfoFamily {
    fn open<'a>(ptr: *const InfoFamily) -> Result<&'a InfoVec, Fail> {
        let f = raw::obj(ptr, "family")?;
        f.node.check()?;
        Ok(&f.vec)
    }
}

/// Creates, or finds if registered before with the same labels and options, the info
/// family `name` (a trailing `_info` is dropped; output adds it) with
/// `label_names_len` label names that identify a series; `options` may be NULL.
///
/// On success `*out` points to the family, owned by `registry`.
#[no_mangle]
pub extern "C" fn metricore_info_family_new(
    registry: *const Registry,
    name: Str,
    help: Str,
    label_names: *const Str,
    label_names_len: usize,
    options: *const FamilyOptions,
    out: *mut *mut InfoFamily,
) -> Status {
    guard(|| {
        let spec = family::spec(
            name,
            help,
            label_names,
            label_names_len,
            options,
            Kind::Info,
        )?;
        let r = Registry::open(registry)?;
        if out.is_null() {
            return Err(Fail::null("out"));
        }
        let family = r.register(spec, |node, family| {
            Ok(InfoFamily {
                node,
                vec: InfoVec::try_from(family)?,
            })
        })?;
        raw::put(out, family, "out")
    })
}

/// Sets the info of the series for `label_values` to the `pairs_len` labels named
/// `pair_names` with the values `pair_values`, replacing what it held. The names must
/// be valid label names that differ from each other and from the family's labels.
#[no_mangle]
pub extern "C" fn metricore_info_family_set(
    family: *const InfoFamily,
    label_values: *const Str,
    label_values_len: usize,
    pair_names: *const Str,
    pair_values: *const Str,
    pairs_len: usize,
) -> Status {
    guard(|| {
        let vec = InfoFamily::open(family)?;
        let names = raw::slice(pair_names, pairs_len, "pair_names")?;
        let values = raw::slice(pair_values, pairs_len, "pair_values")?;
        let pairs = names
            .iter()
            .zip(values)
            .enumerate()
            .map(|(i, (n, v))| {
                Ok((
                    n.utf8(Arg::item("pair_names", i))?,
                    v.utf8(Arg::item("pair_values", i))?,
                ))
            })
            .collect::<Result<Vec<_>, Fail>>()?;
        raw::with_strs(label_values, label_values_len, "label_values", |v| {
            Ok(vec.set(v, &pairs)?)
        })
    })
}

/// Removes every series of the family (that its scope can see).
#[no_mangle]
pub extern "C" fn metricore_info_family_clear(family: *const InfoFamily) -> Status {
    guard(|| {
        InfoFamily::open(family)?.clear();
        Ok(())
    })
}
