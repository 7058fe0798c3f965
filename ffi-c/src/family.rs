//! What the families of every kind share: creation from a spec, resolving label
//! values to a series kept for a handle, recording without a handle, removal.

use std::sync::Arc;

use metricore::{Kind, Spec};

use crate::raw::{self, Str};
use crate::registry::{Node, Registry};
use crate::status::Fail;

/// Options for a new family; a NULL pointer where options are taken means all defaults.
#[repr(C)]
#[derive(Clone, Copy)]
pub struct FamilyOptions {
    /// Unit, such as `seconds` or `bytes` (a label-name-like word), or empty for none.
    /// The name gets `_unit` appended unless it ends with it.
    pub unit: Str,
    /// Series the family holds before new label sets go to its overflow series
    /// (labelled `otel_metric_overflow="true"`); 0 for the default, 2000.
    pub limit: u32,
}

/// Builds the spec of a new family from C arguments.
pub(crate) fn spec(
    name: Str,
    help: Str,
    labels: *const Str,
    labels_len: usize,
    options: *const FamilyOptions,
    kind: Kind,
) -> Result<Spec, Fail> {
    let name = name.utf8("name")?;
    let help = help.utf8("help")?;
    let mut spec = raw::with_strs(labels, labels_len, "label_names", |names| {
        Ok(Spec::new(name, help, kind).labels(names))
    })?;
    if !options.is_null() {
        let o = raw::obj(options, "options")?;
        spec = spec.unit(o.unit.utf8("options.unit")?);
        if o.limit != 0 {
            spec = spec.limit(o.limit);
        }
    }
    Ok(spec)
}

/// A typed core family whose series can be resolved to handles.
pub(crate) trait Labeled:
    TryFrom<metricore::Family, Error = metricore::Error> + Send + Sync + 'static
{
    /// What a handle points to.
    type Series: Send + Sync + 'static;
    /// The series for `values`, made if new.
    fn series(&self, values: &[&str]) -> metricore::Result<Self::Series>;
    /// The core's id of `series`: equal for every handle of one series.
    fn id(series: &Self::Series) -> u64;
    /// Removes the series for `values`.
    fn remove(&self, values: &[&str]) -> metricore::Result<bool>;
    /// Removes every series.
    fn clear(&self);
}

/// Implements [`Labeled`] for a core family type whose handles a series type wraps.
macro_rules! labeled {
    ($vec:ty => $series:ident) => {
        impl $crate::family::Labeled for $vec {
            type Series = $series;
            fn series(&self, values: &[&str]) -> metricore::Result<$series> {
                self.with_labels(values).map($series)
            }
            fn id(series: &$series) -> u64 {
                series.0.id()
            }
            fn remove(&self, values: &[&str]) -> metricore::Result<bool> {
                <$vec>::remove(self, values)
            }
            fn clear(&self) {
                <$vec>::clear(self)
            }
        }
    };
}
pub(crate) use labeled;

/// A family as C holds it: the core family, the liveness of its registry, and the
/// series resolved for handles (one per series, however often it is resolved), kept
/// until the family is dropped with its registry.
pub(crate) struct Family<V: Labeled> {
    node: Arc<Node>,
    vec: V,
    series: raw::Series<V::Series>,
}

impl<V: Labeled> Family<V> {
    /// Registers `spec` in `registry` and hands the new family, wrapped by `wrap`, to
    /// `*out`.
    pub(crate) fn create<F: Send + Sync + 'static>(
        registry: *const Registry,
        spec: Spec,
        wrap: fn(Family<V>) -> F,
        out: *mut *mut F,
    ) -> Result<(), Fail> {
        let r = Registry::open(registry)?;
        if out.is_null() {
            return Err(Fail::null("out"));
        }
        let family = r.register(spec, |node, family| {
            Ok(wrap(Family {
                node,
                vec: V::try_from(family)?,
                series: raw::Series::new(),
            }))
        })?;
        raw::put(out, family, "out")
    }

    fn open(&self) -> Result<&V, Fail> {
        self.node.check()?;
        Ok(&self.vec)
    }

    /// Resolves `values` to the series kept for its handles (kept now if it was not),
    /// and writes the handle that `handle` makes of it to `*out`.
    pub(crate) fn labels<H>(
        &self,
        values: *const Str,
        len: usize,
        out: *mut H,
        handle: fn(*const V::Series) -> H,
    ) -> Result<(), Fail> {
        let vec = self.open()?;
        if out.is_null() {
            return Err(Fail::null("out"));
        }
        let series = raw::with_strs(values, len, "label_values", |v| Ok(vec.series(v)?))?;
        let kept = self.series.keep(V::id(&series), || series);
        raw::put(out, handle(kept), "out")
    }

    /// Resolves `values` and records into the series with `f`, keeping nothing.
    pub(crate) fn record(
        &self,
        values: *const Str,
        len: usize,
        f: impl FnOnce(&V::Series) -> metricore::Result<()>,
    ) -> Result<(), Fail> {
        let vec = self.open()?;
        raw::with_strs(values, len, "label_values", |v| Ok(f(&vec.series(v)?)?))
    }

    /// Removes the series for `values`; `*removed` (if not NULL) says whether there was one.
    pub(crate) fn remove(
        &self,
        values: *const Str,
        len: usize,
        removed: *mut bool,
    ) -> Result<(), Fail> {
        let vec = self.open()?;
        let found = raw::with_strs(values, len, "label_values", |v| Ok(vec.remove(v)?))?;
        if !removed.is_null() {
            raw::put(removed, found, "removed")?;
        }
        Ok(())
    }

    /// Removes every series of the family.
    pub(crate) fn clear(&self) -> Result<(), Fail> {
        self.open()?.clear();
        Ok(())
    }
}
