/* kinesin-kcl: the KCL MultiLangDaemon in C.
 *
 *   kinesin-kcl [--properties|-p|--properties-file FILE] [--log-level L] [FILE]
 *
 * Reads the same .properties file as the Java MultiLangDaemon (the option wins over a
 * positional file, with a warning, as in Java), runs the worker until SIGTERM or SIGINT, and
 * exits 0 after a graceful shutdown, 1 on a startup error. -l/--log-configuration (a logback
 * file for the Java daemon) is accepted and ignored.
 *
 * A thin program: the lease engine is the one kn_consumer runs (worker.h); this file adds the
 * properties file, the signals (handlers only set the stop flag or wake the loop) and the
 * MultiLangDaemon record processors (multilang.c). */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/err.h"
#include "base/log.h"
#include "base/props.h"
#include "kcl/child.h"
#include "kcl/config.h"
#include "kcl/processor.h"
#include "kcl/worker.h"

static kcl_stop stop;

static void on_signal(int sig)
{
    if (sig == SIGCHLD) kcl_stop_wake(&stop); /* the loop reaps every turn */
    else kcl_stop_request(&stop);
}

static int setup_signals(void)
{
    if (kcl_stop_init(&stop) < 0) return -1;
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sigemptyset(&sa.sa_mask);
    sa.sa_flags = SA_RESTART;
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);
    sa.sa_flags = SA_RESTART | SA_NOCLDSTOP;
    sigaction(SIGCHLD, &sa, NULL);
    signal(SIGPIPE, SIG_IGN);
    return 0;
}

static void usage(FILE *f)
{
    fprintf(f, "usage: kinesin-kcl [--properties FILE | -p FILE | --properties-file FILE] [--log-level "
               "debug|info|warn|error] [FILE]\n"
               "Runs unchanged KCL record processors (aws-kcl, amazon_kclpy, aws-kclrb) over the\n"
               "MultiLangDaemon protocol, coordinating shard leases in a DynamoDB lease table.\n");
}

int main(int argc, char **argv)
{
    const char *opt_file = NULL, *pos_file = NULL;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
            usage(stdout);
            return 0;
        } else if (!strcmp(a, "--version")) {
            printf("kinesin-kcl %s\n", KN_VERSION);
            return 0;
        } else if (!strcmp(a, "-p") || !strcmp(a, "--properties") || !strcmp(a, "--properties-file")) {
            if (++i == argc) goto bad;
            opt_file = argv[i];
        } else if (!strncmp(a, "--properties=", 13) || !strncmp(a, "--properties-file=", 18)) {
            opt_file = strchr(a, '=') + 1;
        } else if (!strcmp(a, "-l") || !strcmp(a, "--log-configuration")) {
            if (++i == argc) goto bad;
            kn_info("%s %s ignored: kinesin-kcl logs to stderr (see --log-level)", a, argv[i]);
        } else if (!strcmp(a, "--log-level")) {
            if (++i == argc || kn_log_parse_level(argv[i], &kn_log_threshold) < 0) goto bad;
        } else if (a[0] == '-' && a[1]) {
            fprintf(stderr, "kinesin-kcl: unknown option %s\n", a);
            goto bad;
        } else if (!pos_file) {
            pos_file = a;
        } else {
            fprintf(stderr, "kinesin-kcl: more than one properties file given\n");
            goto bad;
        }
    }
    if (opt_file && pos_file) kn_warn("both --properties-file %s and %s given; using %s", opt_file, pos_file, opt_file);
    const char *file = opt_file ? opt_file : pos_file;
    if (!file) {
        fprintf(stderr, "kinesin-kcl: no properties file given\n");
        goto bad;
    }

    kn_props props;
    kcl_config cfg;
    char err[1024];
    if (kn_props_load(file, &props, err, sizeof err) < 0) {
        kn_error("cannot load properties: %s", err);
        return 1;
    }
    int rc = kcl_config_from_props(&props, &cfg, err, sizeof err);
    kn_props_free(&props);
    if (rc < 0) {
        kn_error("bad configuration in %s: %s", file, err);
        return 1;
    }
    if (kcl_child_check_program(cfg.argv[0]) < 0) {
        kn_error("bad configuration in %s: executableName: cannot run \"%s\": %s", file, cfg.argv[0], strerror(errno));
        kcl_config_free(&cfg);
        return 1;
    }
    int status = 1;
    if (setup_signals() == 0) status = kcl_worker_run(&cfg, &kcl_multilang_ops, &cfg, &stop);
    kcl_config_free(&cfg);
    return status;
bad:
    usage(stderr);
    return 2;
}
