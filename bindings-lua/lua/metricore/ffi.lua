-- LuaJIT FFI access to the C API (ffi-c/include/metricore.h) that the module
-- metricore.so exports: the declarations the recording path needs, and the library.
--
--   local cffi = require "metricore.ffi"
--   cffi.C.metricore_counter_inc_by_f64(handle, 1)
--
-- The library is the one `require "metricore"` loaded: ffi.load gets the path that
-- require found, and the dynamic loader hands back the library already loaded from
-- it, so objects made through the mlua side are valid in FFI calls.

local ffi = require "ffi"

-- Loads the mlua side first, so that the path below is the library it came from.
require "metricore"

local M = {}

-- Declarations copied from include/metricore.h, word for word; a test checks each
-- against the preprocessed header. The recording functions take a handle, which is a
-- pointer to the series, and scalars: LuaJIT's JIT compiler compiles such calls (it
-- does not compile calls that pass a struct by value).
M.declarations = [[
typedef int32_t metricore_status;
typedef struct metricore_counter_family metricore_counter_family;
typedef struct metricore_counter_series metricore_counter_series;
typedef struct metricore_gauge_family metricore_gauge_family;
typedef struct metricore_gauge_series metricore_gauge_series;
typedef struct metricore_histogram_family metricore_histogram_family;
typedef struct metricore_histogram_series metricore_histogram_series;
typedef struct metricore_str {
    const char *ptr;
    size_t len;
} metricore_str;
typedef const struct metricore_counter_series *metricore_counter;
typedef const struct metricore_gauge_series *metricore_gauge;
typedef const struct metricore_histogram_series *metricore_histogram;
const char *metricore_last_error(void);
metricore_status metricore_counter_family_labels(const struct metricore_counter_family *family,
                                                 const struct metricore_str *label_values,
                                                 size_t label_values_len,
                                                 metricore_counter *out);
metricore_status metricore_gauge_family_labels(const struct metricore_gauge_family *family,
                                               const struct metricore_str *label_values,
                                               size_t label_values_len,
                                               metricore_gauge *out);
metricore_status metricore_histogram_family_labels(const struct metricore_histogram_family *family,
                                                   const struct metricore_str *label_values,
                                                   size_t label_values_len,
                                                   metricore_histogram *out);
metricore_status metricore_counter_family_release(const struct metricore_counter_family *family,
                                                  metricore_counter handle);
metricore_status metricore_gauge_family_release(const struct metricore_gauge_family *family,
                                                metricore_gauge handle);
metricore_status metricore_histogram_family_release(const struct metricore_histogram_family *family,
                                                    metricore_histogram handle);
metricore_status metricore_counter_inc(metricore_counter counter);
metricore_status metricore_counter_inc_by(metricore_counter counter, uint64_t n);
metricore_status metricore_counter_inc_by_f64(metricore_counter counter, double v);
metricore_status metricore_counter_get(metricore_counter counter, double *out);
metricore_status metricore_gauge_set(metricore_gauge gauge, double v);
metricore_status metricore_gauge_add(metricore_gauge gauge, double v);
metricore_status metricore_histogram_observe(metricore_histogram histogram, double v);
metricore_status metricore_counter_inc_exemplar(metricore_counter counter,
                                                double v,
                                                const struct metricore_str *exemplar_names,
                                                const struct metricore_str *exemplar_values,
                                                size_t exemplar_len);
metricore_status metricore_histogram_observe_exemplar(metricore_histogram histogram,
                                                      double v,
                                                      const struct metricore_str *exemplar_names,
                                                      const struct metricore_str *exemplar_values,
                                                      size_t exemplar_len);
]]

ffi.cdef(M.declarations)

--- The library's path, as `require "metricore"` found it.
M.path = assert(package.searchpath("metricore", package.cpath),
    "metricore.ffi: metricore.so is not on package.cpath")

--- The C library namespace.
M.C = ffi.load(M.path)

--- The message of the last failed C call on this thread.
function M.last_error()
    return ffi.string(M.C.metricore_last_error())
end

return M
