"""libkinesin as people install it: `cmake --install` of this build into a temporary prefix
(what `make install PREFIX=...` runs) holds the programs, libkinesin.so with its SONAME, the
static archive, the headers, kinesin.pc and the man pages; examples/c builds out of the tree
with `cc $(pkg-config --cflags --libs kinesin)` and with its Makefile against the static
archive, and both builds put and read back records on a kinesind; a C++ program includes the
headers and links the library too."""
import os
import shutil
import subprocess
import tempfile

from kn import Kinesind, check, eq, main


CXX = """#include <kinesin/consumer.h>
#include <kinesin/dynamodb.h>
#include <kinesin/producer.h>
#include <cstring>
int main() {
    kn_producer_options o = {};
    if (kn_producer_options_set(&o, "AggregationMaxSize", "20000", nullptr, 0) != 0 || o.aggregation_max_size != 20000)
        return 1;
    return std::strcmp(kn_err_type(KN_ENOT_FOUND), "ResourceNotFoundException") == 0 ? 0 : 1;
}
"""


def run(cmd, **kw):
    p = subprocess.run(cmd, capture_output=True, text=True, timeout=240, **kw)
    if p.returncode != 0:
        raise AssertionError("%r exited %d:\n%s\n%s" % (cmd, p.returncode, p.stdout, p.stderr))
    return p.stdout


def test():
    src = os.environ["KN_SRC"]
    build = os.path.dirname(os.environ.get("KN_BIN") or os.path.join(src, "build", "bin"))
    tmp = tempfile.mkdtemp(prefix="kn-install-")
    try:
        prefix = os.path.join(tmp, "prefix")
        run(["cmake", "--install", build, "--prefix", prefix])
        libdir = os.path.dirname(run(["find", prefix, "-name", "kinesin.pc"]).split()[0])
        libdir = os.path.dirname(libdir)
        for f in ["bin/kinesind", "bin/kinesin", "bin/kinesin-kcl", "include/kinesin/kinesin.h",
                  "include/kinesin/producer.h", "share/man/man1/kinesin.1", "share/man/man1/kinesind.1",
                  "share/man/man1/kinesin-kcl.1"]:
            check(os.path.exists(os.path.join(prefix, f)), "installed %s" % f)
        for f in ["libkinesin.so", "libkinesin.so.0", "libkinesin.a"]:
            check(os.path.exists(os.path.join(libdir, f)), "installed %s" % f)
        eq([l.split()[-1] for l in run(["readelf", "-d", os.path.join(libdir, "libkinesin.so")]).splitlines()
            if "SONAME" in l], ["[libkinesin.so.0]"], "SONAME")

        env = dict(os.environ, PKG_CONFIG_PATH=os.path.join(libdir, "pkgconfig"))
        cflags = run(["pkg-config", "--cflags", "kinesin"], env=env).split()
        libs = run(["pkg-config", "--libs", "kinesin"], env=env).split()
        san = []
        with open(os.path.join(build, "CMakeCache.txt")) as f:
            if "KN_SANITIZE:BOOL=ON" in f.read():
                san = ["-fsanitize=address,undefined"]  # the installed library is instrumented
        work = os.path.join(tmp, "example")
        shutil.copytree(os.path.join(src, "examples", "c"), work)
        run(["cc", "-Wall", "-Wextra", "-Werror"] + san + cflags + ["produce_and_read.c", "-o", "dyn"] + libs +
            ["-Wl,-rpath," + libdir], cwd=work, env=env)
        run(["make", "STATIC=1", "CFLAGS=" + " ".join(san)], cwd=work, env=env)
        check("libkinesin" not in run(["ldd", os.path.join(work, "produce_and_read")]), "the static build is static")
        # C++ programs include the headers as they are (extern "C") and link the same library.
        with open(os.path.join(work, "cxx.cc"), "w") as f:
            f.write(CXX)
        if shutil.which("c++"):
            run(["c++", "-std=c++17", "-Wall", "-Werror"] + san + cflags + ["cxx.cc", "-o", "cxx"] + libs +
                ["-Wl,-rpath," + libdir], cwd=work, env=env)
            eq(subprocess.run([os.path.join(work, "cxx")], env=env).returncode, 0, "the C++ program's exit status")
        check("libkinesin.so.0" in run(["ldd", os.path.join(work, "dyn")]), "the shared build uses the .so")

        with Kinesind(in_memory=True) as kd:
            renv = dict(env, AWS_ENDPOINT_URL=kd.endpoint)
            out = run([os.path.join(work, "dyn"), "s1", "3000"], env=renv)
            check("3000 delivered" in out and "read back 3000" in out, "the shared build: %s" % out.strip())
            out = run([os.path.join(work, "produce_and_read"), "s2", "2000"], env=renv)
            check("2000 delivered" in out and "read back 2000" in out, "the static build: %s" % out.strip())
            print(out.strip())
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


main(test)
