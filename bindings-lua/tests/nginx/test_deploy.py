"""deploy/nginx/metricore.conf, run as it is except for ports, paths and (as root) the
worker user: the gateway's metrics come out exact and promtool accepts them."""

import os
from concurrent.futures import ThreadPoolExecutor

from conftest import Nginx, free_port, lua_paths
from test_nginx import promtool_check, samples

EXAMPLE = os.path.join(os.path.dirname(__file__), "..", "..", "..", "deploy", "nginx", "metricore.conf")


def example_conf(tmp_path, api, backend, scrape):
    """The example with its ports, install paths and registry file moved into the test."""
    with open(EXAMPLE, encoding="utf-8") as f:
        conf = f.read()
    so_dir = os.path.dirname(os.environ["METRICORE_LUA_SO"])
    replacements = {
        "listen 8080 ": f"listen 127.0.0.1:{api} ",
        "127.0.0.1:8081": f"127.0.0.1:{backend}",
        "listen 9145 ": f"listen 127.0.0.1:{scrape} ",
        "/usr/local/share/lua/5.1/?.lua": f"{os.environ['METRICORE_LUA_DIR']}/?.lua",
        "/usr/local/lib/lua/5.1/?.so": f"{so_dir}/?.so",
        "/dev/shm/nginx-gateway.metricore": str(tmp_path / "gateway.metricore"),
        "http {\n": "http {\n    client_body_temp_path temp/body;\n    proxy_temp_path temp/proxy;\n",
    }
    for old, new in replacements.items():
        assert old in conf, f"the example no longer has {old!r}"
        conf = conf.replace(old, new)
    assert lua_paths()  # the environment is set
    if os.geteuid() == 0:
        conf = "user root root;\ndaemon off;\n" + conf
    else:
        conf = "daemon off;\n" + conf
    return conf


def test_the_example_gateway_config(tmp_path):
    api, backend, scrape = free_port(), free_port(), free_port()
    server = Nginx(str(tmp_path / "gateway"), api)
    try:
        server.start(example_conf(tmp_path, api, backend, scrape))
        chat = [server.request("/v1/chat/completions", "POST", {"X-Namespace": "wechat"}, "{}")[0]
                for _ in range(30)]
        assert chat == [200] * 30
        models = [server.request("/v1/models")[0] for _ in range(10)]  # one miss, then hits
        assert models == [200] * 10
        missing = [server.request("/v1/nothing", headers={"X-Namespace": "Bad Name!"})[0] for _ in range(5)]
        assert missing == [503] * 5
        with ThreadPoolExecutor(8) as pool:
            flood = list(pool.map(lambda _: server.request("/v1/embeddings", "POST",
                                                           {"X-Namespace": "flood"}, "{}")[0], range(400)))
        refused = flood.count(429)
        assert refused > 0 and flood.count(200) + refused == 400

        scraper = Nginx(server.prefix, scrape)  # the same nginx, seen on its scrape port
        status, headers, text = scraper.request("/metrics")
        assert status == 200
        s = samples(text)
        req = "gateway_requests_total"
        assert s[(req, (("method", "POST"), ("namespace", "wechat"), ("path", "/v1/chat/completions")))] == 30
        assert s[(req, (("method", "GET"), ("namespace", "default"), ("path", "/v1/models")))] == 10
        assert s[(req, (("method", "GET"), ("namespace", "default"), ("path", "other")))] == 5
        assert s[(req, (("method", "POST"), ("namespace", "flood"), ("path", "/v1/embeddings")))] == 400
        assert s[("gateway_request_duration_seconds_count", ())] == 445
        assert s[("rate_limit_hits_total", (("namespace", "flood"), ("rule_type", "requests")))] == refused
        assert s[("cache_misses_total", (("cache_type", "response"),))] == 1
        assert s[("cache_hits_total", (("cache_type", "response"),))] == 9
        errors = (("error_type", "upstream_error"), ("namespace", "default"), ("upstream", "llm_backend"))
        assert s[("errors_total", errors)] == 5
        assert s[("nginx_metric_errors_total", ())] == 0
        promtool_check(text)
        status, headers, text = scraper.request("/metrics", headers={"Accept": "application/openmetrics-text"})
        assert headers["content-type"].startswith("application/openmetrics-text; version=1.0.0")
        assert text.endswith("# EOF\n")
    finally:
        server.stop()
