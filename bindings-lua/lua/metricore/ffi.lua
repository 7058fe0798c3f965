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

-- Declarations copied from include/metricore.h; a test checks each against the
-- preprocessed header.
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
typedef struct metricore_counter {
    const struct metricore_counter_series *series;
} metricore_counter;
typedef struct metricore_gauge {
    const struct metricore_gauge_series *series;
} metricore_gauge;
typedef struct metricore_histogram {
    const struct metricore_histogram_series *series;
} metricore_histogram;
const char *metricore_last_error(void);
metricore_status metricore_counter_family_labels(const struct metricore_counter_family *family,
                                                 const struct metricore_str *label_values,
                                                 size_t label_values_len,
                                                 struct metricore_counter *out);
metricore_status metricore_gauge_family_labels(const struct metricore_gauge_family *family,
                                               const struct metricore_str *label_values,
                                               size_t label_values_len,
                                               struct metricore_gauge *out);
metricore_status metricore_histogram_family_labels(const struct metricore_histogram_family *family,
                                                   const struct metricore_str *label_values,
                                                   size_t label_values_len,
                                                   struct metricore_histogram *out);
]]

-- The recording functions take a handle (metricore_counter, ...) by value: a struct
-- whose one member is a pointer to the series. LuaJIT's JIT compiler does not compile
-- calls that pass structs by value (they run in the interpreter), so these are
-- declared taking that pointer instead. The two are passed identically: a struct of
-- one pointer goes in the register the pointer would (x86-64 System V: class INTEGER,
-- in the next general-purpose register; AArch64 AAPCS64: a composite of at most 16
-- bytes, in the next general-purpose register). A test checks that each line below,
-- with `const struct metricore_X_series *h` put back as `struct metricore_X h`, is a
-- declaration of the header, and that each handle struct has that one member.
M.by_pointer = [[
metricore_status metricore_counter_inc(const struct metricore_counter_series *counter);
metricore_status metricore_counter_inc_by(const struct metricore_counter_series *counter, uint64_t n);
metricore_status metricore_counter_inc_by_f64(const struct metricore_counter_series *counter, double v);
metricore_status metricore_counter_get(const struct metricore_counter_series *counter, double *out);
metricore_status metricore_gauge_set(const struct metricore_gauge_series *gauge, double v);
metricore_status metricore_gauge_add(const struct metricore_gauge_series *gauge, double v);
metricore_status metricore_histogram_observe(const struct metricore_histogram_series *histogram, double v);
]]

local arch = ffi.arch
assert(arch == "x64" or arch == "arm64",
    "metricore.ffi: passing handles as pointers is checked for x64 and arm64 only, not " .. arch)

ffi.cdef(M.declarations)
ffi.cdef(M.by_pointer)

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
