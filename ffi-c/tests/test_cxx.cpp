// The header from C++: it compiles cleanly and the API works the same.
#include <string>
#include <vector>

#include "harness.h"
#include "tests.h"

namespace {

int collected = 0;

void on_collect(void *user) { *static_cast<int *>(user) += 1; }

metricore_str view(const std::string &s) { return metricore_str{s.data(), s.size()}; }

}  // namespace

extern "C" void test_cxx(void) {
    metricore_registry *r = test_registry();
    std::vector<std::string> names = {"model", "route"};
    std::vector<metricore_str> labels;
    for (const auto &n : names) {
        labels.push_back(view(n));
    }
    metricore_counter_family *f = nullptr;
    CHECK_OK(metricore_counter_family_new(r, METRICORE_LIT("cxx_requests"), METRICORE_LIT("From C++."),
                                          labels.data(), labels.size(), nullptr, &f));
    std::string model = "llama", route = "/v1/chat";
    metricore_str values[] = {view(model), view(route)};
    metricore_counter c{};
    CHECK_OK(metricore_counter_family_labels(f, values, 2, &c));
    CHECK_OK(metricore_counter_inc_by(c, 3));
    metricore_status s = metricore_counter_inc_by_f64(c, -1);
    CHECK(s == METRICORE_STATUS_INVALID_VALUE);
    CHECK_OK(metricore_registry_on_collect(r, on_collect, &collected));

    char *text = nullptr;
    size_t len = 0;
    CHECK_OK(metricore_registry_render_alloc(r, METRICORE_FORMAT_PROMETHEUS, &text, &len));
    std::string out(text, len);
    metricore_string_free(text);
    CHECK(out.find("cxx_requests_total{model=\"llama\",route=\"/v1/chat\"} 3\n") != std::string::npos);
    CHECK(collected == 1);
    CHECK_OK(metricore_registry_free(r));
}
