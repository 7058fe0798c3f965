#!/usr/bin/env bash
# Installs the system packages the tests use, when they are missing (Debian 12).
set -euo pipefail

need=()
command -v promtool >/dev/null || need+=(prometheus)
command -v prometheus-pushgateway >/dev/null || need+=(prometheus-pushgateway)
# The exporter tests: a long-term store for remote_write, htpasswd for bcrypt hashes,
# openssl for throwaway certificates.
command -v victoria-metrics >/dev/null || need+=(victoria-metrics)
command -v htpasswd >/dev/null || need+=(apache2-utils)
command -v openssl >/dev/null || need+=(openssl)
command -v valgrind >/dev/null || need+=(valgrind)
command -v gcc >/dev/null || need+=(gcc)
command -v g++ >/dev/null || need+=(g++)
command -v pkg-config >/dev/null || need+=(pkg-config)
# The Lua binding's tests: nginx with its Lua module, on the OpenResty LuaJIT (luajit2;
# Debian's luajit / libluajit-5.1-dev conflict with it).
command -v nginx >/dev/null || need+=(nginx)
[ -f /usr/lib/nginx/modules/ngx_http_lua_module.so ] || need+=(libnginx-mod-http-lua)
command -v luajit >/dev/null || need+=(luajit2)
[ -f /usr/include/luajit-2.1/luajit.h ] || need+=(libluajit2-5.1-dev)
# The Lua rock (make dist-lua, make dist-tests).
command -v luarocks >/dev/null || need+=(luarocks)

if [ ${#need[@]} -gt 0 ]; then
  sudo=""
  [ "$(id -u)" -eq 0 ] || sudo="sudo"
  echo "installing: ${need[*]}"
  $sudo apt-get update -qq
  # --no-install-recommends: the prometheus package otherwise pulls an exporter whose
  # setup fails in containers.
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${need[@]}"
fi
