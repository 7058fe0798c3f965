//! What the families of every kind share: creation from a spec, resolving label
//! values to a series kept for a handle, recording without a handle, removal.

use std::sync::Arc;

use metricore::{Kind, Spec};

use crate::raw::{self, Str};
use crate::registry::{Node, Registry};
use crate::status::{Fail, Status};

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
    /// Idle time in milliseconds after which a series not written (its value
    /// unchanged) leaves the output and gives its space back; a later lookup makes it
    /// anew from zero, and a handle kept from before records nothing (counted in
    /// `metricore_stale_recordings_total`). 0: series never expire. Part of the
    /// family's definition: every process must give the same. Only for families with
    /// labels, not for info.
    pub expire_ms: u32,
}

/// Builds the spec of a new family from C arguments.
///
/// # Safety
///
/// `name` and `help` must be strings as [`Str::bytes`] requires; `labels` and
/// `labels_len` an array of such strings as [`raw::with_strs`] requires; `options`
/// NULL or a readable `FamilyOptions` whose `unit` is such a string. All are read
/// during this call only.
pub(crate) unsafe fn spec(
    name: Str,
    help: Str,
    labels: *const Str,
    labels_len: usize,
    options: *const FamilyOptions,
    kind: Kind,
) -> Result<Spec, Fail> {
    // SAFETY: `name` and `help` are valid strings (this function's contract), borrowed
    // only until `Spec::new` has copied them.
    let (name, help) = unsafe { (name.utf8("name")?, help.utf8("help")?) };
    // SAFETY: `labels` is a valid array of valid strings (this function's contract);
    // the spec copies the names.
    let mut spec = unsafe {
        raw::with_strs(labels, labels_len, "label_names", |names| {
            Ok(Spec::new(name, help, kind).labels(names))
        })
    }?;
    if !options.is_null() {
        // SAFETY: `options` is a readable `FamilyOptions` left alone during this call
        // (this function's contract); `o` is not kept past it.
        let o = unsafe { raw::obj(options, "options") }?;
        // SAFETY: `o.unit` is a valid string (this function's contract); the spec
        // copies it.
        spec = spec.unit(unsafe { o.unit.utf8("options.unit") }?);
        if o.limit != 0 {
            spec = spec.limit(o.limit);
        }
        spec.expire_ms = o.expire_ms.into();
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
    /// The core's id of `series`: equal for every handle of one series, and not for a
    /// series made later in its space.
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
/// until its handles are released or the family is dropped with its registry.
pub(crate) struct Family<V: Labeled> {
    node: Arc<Node>,
    vec: V,
    series: raw::Series<V::Series>,
}

impl<V: Labeled> Family<V> {
    /// Registers `spec` in `registry` and hands the new family, wrapped by `wrap`, to
    /// `*out`.
    ///
    /// # Safety
    ///
    /// `registry` must be NULL or a live registry object (as [`Registry::open`]
    /// requires), and `out` NULL or writable for one pointer (as [`raw::put`] requires).
    pub(crate) unsafe fn create<F: Send + Sync + 'static>(
        registry: *const Registry,
        spec: Spec,
        wrap: fn(Family<V>) -> F,
        out: *mut *mut F,
    ) -> Result<(), Fail> {
        // SAFETY: `registry` is NULL or live for this call (this function's contract).
        let r = unsafe { Registry::open(registry) }?;
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
        // SAFETY: `out` is writable for one pointer (this function's contract).
        unsafe { raw::put(out, family, "out") }
    }

    fn open(&self) -> Result<&V, Fail> {
        self.node.check()?;
        Ok(&self.vec)
    }

    /// Resolves `values` to the series kept for its handles (kept now if it was not),
    /// and writes the handle, a pointer to that series, to `*out`. The pointer stays
    /// valid as long as `self`.
    ///
    /// # Safety
    ///
    /// `values` and `len` must be an array of strings as [`raw::with_strs`] requires,
    /// and `out` NULL or writable for one pointer (as [`raw::put`] requires).
    pub(crate) unsafe fn labels(
        &self,
        values: *const Str,
        len: usize,
        out: *mut *const V::Series,
    ) -> Result<(), Fail> {
        let vec = self.open()?;
        if out.is_null() {
            return Err(Fail::null("out"));
        }
        // SAFETY: `values` is a valid array of valid strings (this function's contract);
        // the core copies what it keeps of them.
        let series =
            unsafe { raw::with_strs(values, len, "label_values", |v| Ok(vec.series(v)?)) }?;
        let kept = self.series.keep(V::id(&series), || series);
        // SAFETY: `out` is writable for one pointer (this function's contract).
        unsafe { raw::put(out, kept, "out") }
    }

    /// Gives back a handle that [`labels`](Family::labels) wrote: the series kept for it
    /// is freed once every handle written for it is given back. Works on a closed
    /// registry too.
    pub(crate) fn release(&self, handle: *const V::Series) -> Result<(), Fail> {
        if handle.is_null() {
            return Err(Fail::null("handle"));
        }
        if self.series.release(handle) {
            Ok(())
        } else {
            Err(Fail::new(
                Status::InvalidArgument,
                "handle was not written by this family, or was given back as often as it was written"
                    .into(),
            ))
        }
    }

    /// Resolves `values` and records into the series with `f`, keeping nothing.
    ///
    /// # Safety
    ///
    /// `values` and `len` must be an array of strings as [`raw::with_strs`] requires.
    pub(crate) unsafe fn record(
        &self,
        values: *const Str,
        len: usize,
        f: impl FnOnce(&V::Series) -> metricore::Result<()>,
    ) -> Result<(), Fail> {
        let vec = self.open()?;
        // SAFETY: `values` is a valid array of valid strings (this function's contract).
        unsafe { raw::with_strs(values, len, "label_values", |v| Ok(f(&vec.series(v)?)?)) }
    }

    /// Removes the series for `values`; `*removed` (if not NULL) says whether there was one.
    ///
    /// # Safety
    ///
    /// `values` and `len` must be an array of strings as [`raw::with_strs`] requires,
    /// and `removed` NULL or writable for one `bool`.
    pub(crate) unsafe fn remove(
        &self,
        values: *const Str,
        len: usize,
        removed: *mut bool,
    ) -> Result<(), Fail> {
        let vec = self.open()?;
        // SAFETY: `values` is a valid array of valid strings (this function's contract).
        let found = unsafe { raw::with_strs(values, len, "label_values", |v| Ok(vec.remove(v)?)) }?;
        if !removed.is_null() {
            // SAFETY: `removed` is not NULL, so writable for one `bool` (this function's
            // contract).
            unsafe { raw::put(removed, found, "removed") }?;
        }
        Ok(())
    }

    /// Removes every series of the family.
    pub(crate) fn clear(&self) -> Result<(), Fail> {
        self.open()?.clear();
        Ok(())
    }
}
