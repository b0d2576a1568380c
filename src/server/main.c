/* kinesind: the Kinesis data plane (and, later, the DynamoDB subset KCL leases need) as one
 * durable binary. Parses the command line, opens the data directory, serves until SIGTERM. */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/arena.h"
#include "base/clock.h"
#include "base/log.h"
#include "server/auth.h"
#include "server/dashboard.h"
#include "server/fault.h"
#include "server/http.h"
#include "server/server.h"
#include "store/journal.h"

static volatile sig_atomic_t stop_flag;
static volatile int stop_int;

static void on_signal(int sig)
{
    stop_flag = 1;
    stop_int = 1;
}

static void on_sighup(int sig)
{
    kn_faults_request_reload();
}

static void usage(FILE *f)
{
    fprintf(f, "usage: kinesind [options]\n"
               "\n"
               "A durable Amazon Kinesis Data Streams server (JSON 1.1 over HTTP/1.1 and HTTP/2), with\n"
               "the DynamoDB API subset KCL lease tables need (JSON 1.0) on the same port.\n"
               "\n"
               "  --host ADDR              address to listen on (default 127.0.0.1)\n"
               "  --port N                 port (default 4567)\n"
               "  --data-dir DIR           where streams and records are kept (default ./kinesin-data)\n"
               "  --in-memory              keep everything in memory; nothing survives a restart\n"
               "  --create-stream-ms MS    time a stream stays CREATING (default 500; 0 allowed)\n"
               "  --delete-stream-ms MS    time a stream stays DELETING (default 500)\n"
               "  --update-stream-ms MS    time a stream stays UPDATING (default 500)\n"
               "  --create-table-ms MS     time a DynamoDB table or index stays CREATING, and a table\n"
               "                           UPDATING while an index builds (default 500; 0: at once)\n"
               "  --shard-limit N          open shards allowed in the account (default 1000)\n"
               "  --subscription-ms MS     how long a SubscribeToShard stream lasts before the client\n"
               "                           must subscribe again (default 300000, AWS's 5 minutes)\n"
               "  --tls-port N             also serve HTTPS (HTTP/2 or HTTP/1.1 by ALPN) on port N,\n"
               "                           with --tls-cert FILE and --tls-key FILE (PEM)\n"
               "  --enforce-throughput     apply AWS's per-shard limits (in: 1 MiB/s or 1000 records/s;\n"
               "                           out: 2 MiB/s and 5 calls/s) with ProvisionedThroughputExceeded\n"
               "  --segment-bytes N        roll shard log segments past N bytes (default 67108864)\n"
               "  --fsync POLICY           always (default): acknowledge writes after fdatasync;\n"
               "                           interval=MS: acknowledge after write(), sync every MS;\n"
               "                           never: leave syncing to the operating system\n"
               "  --checkpoint-bytes N     sync shard segments and drop the journal once it holds N\n"
               "                           bytes (default 67108864; bounds the replay at start)\n"
               "  --checkpoint-ms MS       ... or MS after the last checkpoint (default 10000)\n"
               "  --retention-check-ms MS  how often expired records are deleted (default 60000)\n"
               "  --auth MODE              none (default): check only that requests look signed;\n"
               "                           sigv4: verify every signature against --credentials\n"
               "  --credentials FILE       ACCESS_KEY_ID SECRET pairs, one per line (--auth sigv4)\n"
               "  --cors-origin ORIGIN     answer browsers' CORS requests from ORIGIN (repeatable; '*'\n"
               "                           for any); by default web pages get no CORS access\n"
               "  --max-connections N      connections served at once (default 1024); more wait\n"
               "                           in the kernel's accept queue\n"
               "  --request-timeout-ms MS  time a client has to send a request's headers and body,\n"
               "                           and that a connection may sit idle (default 10000)\n"
               "  --fault RULE             inject faults into matching Kinesis calls (repeatable), e.g.\n"
               "                           'error=throttle,op=PutRecords,rate=0.1,seed=7'; docs/faults.md\n"
               "  --fault-file FILE        fault rules as JSON, reread when the file changes or on SIGHUP\n"
               "  --dashboard on|off       serve the web dashboard (GET /), its JSON API (/api/...) and\n"
               "                           Prometheus metrics (/metrics), read-only, on the same port\n"
               "                           (default: on, but off with --auth sigv4)\n"
               "  --log-level LEVEL        debug, info, warn or error (default info)\n"
               "  --help                   this text\n"
               "  --version                print the version\n"
               "\n"
               "Environment: AWS_ACCOUNT_ID (default 000000000000), AWS_REGION or AWS_DEFAULT_REGION\n"
               "(default us-east-1).\n");
}

static int parse_int(const char *flag, const char *v, long long min, long long max, long long *out)
{
    char *end;
    errno = 0;
    long long x = strtoll(v, &end, 10);
    if (errno || *end || end == v || x < min || x > max) {
        fprintf(stderr, "kinesind: %s: '%s' is not a number between %lld and %lld\n", flag, v, min, max);
        return -1;
    }
    *out = x;
    return 0;
}

static int add_fault(kn_faults **f, const char *flag, const char *v)
{
    char err[400];
    if (!*f) *f = kn_faults_new();
    int rc = strcmp(flag, "--fault") == 0 ? kn_faults_add(*f, v, err, sizeof err)
                                          : kn_faults_watch_file(*f, v, err, sizeof err);
    if (rc < 0) fprintf(stderr, "kinesind: %s %s: %s\n", flag, v, err);
    return rc;
}

static int parse_args(int argc, char **argv, kn_config *cfg, kn_faults **faults)
{
    enum {
        OPT_HOST = 256,
        OPT_PORT,
        OPT_DATA,
        OPT_MEM,
        OPT_CREATE,
        OPT_DELETE,
        OPT_UPDATE,
        OPT_LIMIT,
        OPT_SEG,
        OPT_LOG,
        OPT_HELP,
        OPT_VER,
        OPT_FSYNC,
        OPT_RETENTION,
        OPT_AUTH,
        OPT_CREDENTIALS,
        OPT_CREATE_TABLE,
        OPT_SUBSCRIPTION,
        OPT_THROUGHPUT,
        OPT_TLS_PORT,
        OPT_TLS_CERT,
        OPT_TLS_KEY,
        OPT_CHECKPOINT,
        OPT_CHECKPOINT_MS,
        OPT_CORS,
        OPT_MAX_CONN,
        OPT_REQ_TIMEOUT,
        OPT_FAULT,
        OPT_FAULT_FILE,
        OPT_DASHBOARD
    };
    static const struct option opts[] = {{"host", required_argument, 0, OPT_HOST},
                                         {"port", required_argument, 0, OPT_PORT},
                                         {"data-dir", required_argument, 0, OPT_DATA},
                                         {"in-memory", no_argument, 0, OPT_MEM},
                                         {"create-stream-ms", required_argument, 0, OPT_CREATE},
                                         {"delete-stream-ms", required_argument, 0, OPT_DELETE},
                                         {"update-stream-ms", required_argument, 0, OPT_UPDATE},
                                         {"shard-limit", required_argument, 0, OPT_LIMIT},
                                         {"segment-bytes", required_argument, 0, OPT_SEG},
                                         {"log-level", required_argument, 0, OPT_LOG},
                                         {"fsync", required_argument, 0, OPT_FSYNC},
                                         {"checkpoint-bytes", required_argument, 0, OPT_CHECKPOINT},
                                         {"checkpoint-ms", required_argument, 0, OPT_CHECKPOINT_MS},
                                         {"retention-check-ms", required_argument, 0, OPT_RETENTION},
                                         {"create-table-ms", required_argument, 0, OPT_CREATE_TABLE},
                                         {"subscription-ms", required_argument, 0, OPT_SUBSCRIPTION},
                                         {"enforce-throughput", no_argument, 0, OPT_THROUGHPUT},
                                         {"tls-port", required_argument, 0, OPT_TLS_PORT},
                                         {"tls-cert", required_argument, 0, OPT_TLS_CERT},
                                         {"tls-key", required_argument, 0, OPT_TLS_KEY},
                                         {"auth", required_argument, 0, OPT_AUTH},
                                         {"credentials", required_argument, 0, OPT_CREDENTIALS},
                                         {"cors-origin", required_argument, 0, OPT_CORS},
                                         {"max-connections", required_argument, 0, OPT_MAX_CONN},
                                         {"request-timeout-ms", required_argument, 0, OPT_REQ_TIMEOUT},
                                         {"fault", required_argument, 0, OPT_FAULT},
                                         {"fault-file", required_argument, 0, OPT_FAULT_FILE},
                                         {"dashboard", required_argument, 0, OPT_DASHBOARD},
                                         {"help", no_argument, 0, OPT_HELP},
                                         {"version", no_argument, 0, OPT_VER},
                                         {0, 0, 0, 0}};
    opterr = 0;
    int o, dashboard = -1; /* -1: by --auth */
    long long v;
    while ((o = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        switch (o) {
        case OPT_HOST:
            cfg->host = optarg;
            break;
        case OPT_PORT:
            if (parse_int("--port", optarg, 0, 65535, &v)) return -1;
            cfg->port = (int)v;
            break;
        case OPT_DATA:
            cfg->data_dir = optarg;
            break;
        case OPT_MEM:
            cfg->in_memory = true;
            break;
        case OPT_CREATE:
            if (parse_int("--create-stream-ms", optarg, 0, 86400000, &v)) return -1;
            cfg->create_stream_ms = v;
            break;
        case OPT_SUBSCRIPTION:
            if (parse_int("--subscription-ms", optarg, 1000, 86400000, &v)) return -1;
            cfg->subscription_ms = v;
            break;
        case OPT_DELETE:
            if (parse_int("--delete-stream-ms", optarg, 0, 86400000, &v)) return -1;
            cfg->delete_stream_ms = v;
            break;
        case OPT_UPDATE:
            if (parse_int("--update-stream-ms", optarg, 0, 86400000, &v)) return -1;
            cfg->update_stream_ms = v;
            break;
        case OPT_THROUGHPUT:
            cfg->enforce_throughput = true;
            break;
        case OPT_TLS_PORT:
            if (parse_int("--tls-port", optarg, 1, 65535, &v)) return -1;
            cfg->tls_port = (int)v;
            break;
        case OPT_TLS_CERT:
            cfg->tls_cert = optarg;
            break;
        case OPT_TLS_KEY:
            cfg->tls_key = optarg;
            break;
        case OPT_CREATE_TABLE:
            if (parse_int("--create-table-ms", optarg, 0, 86400000, &v)) return -1;
            cfg->create_table_ms = v;
            break;
        case OPT_LIMIT:
            if (parse_int("--shard-limit", optarg, 1, 1000000, &v)) return -1;
            cfg->shard_limit = (int)v;
            break;
        case OPT_SEG:
            if (parse_int("--segment-bytes", optarg, 4096, 1LL << 40, &v)) return -1;
            cfg->segment_bytes = (uint64_t)v;
            break;
        case OPT_FSYNC:
            if (strcmp(optarg, "always") == 0) {
                cfg->fsync_mode = KN_FSYNC_ALWAYS;
            } else if (strcmp(optarg, "never") == 0) {
                cfg->fsync_mode = KN_FSYNC_NEVER;
            } else if (strncmp(optarg, "interval=", 9) == 0) {
                if (parse_int("--fsync interval", optarg + 9, 1, 3600000, &v)) return -1;
                cfg->fsync_mode = KN_FSYNC_INTERVAL;
                cfg->fsync_interval_ms = v;
            } else {
                fprintf(stderr, "kinesind: --fsync: '%s' is not always, interval=MS or never\n", optarg);
                return -1;
            }
            break;
        case OPT_CHECKPOINT:
            if (parse_int("--checkpoint-bytes", optarg, 4096, 1LL << 40, &v)) return -1;
            cfg->checkpoint_bytes = (uint64_t)v;
            break;
        case OPT_CHECKPOINT_MS:
            if (parse_int("--checkpoint-ms", optarg, 1, 86400000, &v)) return -1;
            cfg->checkpoint_ms = v;
            break;
        case OPT_RETENTION:
            if (parse_int("--retention-check-ms", optarg, 1, 86400000, &v)) return -1;
            cfg->retention_check_ms = v;
            break;
        case OPT_LOG: {
            kn_log_level l;
            if (kn_log_parse_level(optarg, &l)) {
                fprintf(stderr, "kinesind: --log-level: '%s' is not one of debug, info, warn, error\n",
                        optarg);
                return -1;
            }
            kn_log_threshold = l;
            break;
        }
        case OPT_AUTH:
            if (strcmp(optarg, "sigv4") == 0) {
                cfg->auth_sigv4 = true;
            } else if (strcmp(optarg, "none") == 0) {
                cfg->auth_sigv4 = false;
            } else {
                fprintf(stderr, "kinesind: --auth: '%s' is not none or sigv4\n", optarg);
                return -1;
            }
            break;
        case OPT_CREDENTIALS:
            cfg->credentials_file = optarg;
            break;
        case OPT_CORS:
            if (cfg->ncors_origins == sizeof cfg->cors_origins / sizeof cfg->cors_origins[0]) {
                fprintf(stderr, "kinesind: --cors-origin: at most %zu origins\n", cfg->ncors_origins);
                return -1;
            }
            cfg->cors_origins[cfg->ncors_origins++] = optarg;
            break;
        case OPT_MAX_CONN:
            if (parse_int("--max-connections", optarg, 1, 1000000, &v)) return -1;
            cfg->max_connections = (int)v;
            break;
        case OPT_REQ_TIMEOUT:
            if (parse_int("--request-timeout-ms", optarg, 100, 3600000, &v)) return -1;
            cfg->request_timeout_ms = v;
            break;
        case OPT_FAULT:
            if (add_fault(faults, "--fault", optarg) < 0) return -1;
            break;
        case OPT_FAULT_FILE:
            if (add_fault(faults, "--fault-file", optarg) < 0) return -1;
            break;
        case OPT_DASHBOARD:
            if (strcmp(optarg, "on") == 0) {
                dashboard = 1;
            } else if (strcmp(optarg, "off") == 0) {
                dashboard = 0;
            } else {
                fprintf(stderr, "kinesind: --dashboard: '%s' is not on or off\n", optarg);
                return -1;
            }
            break;
        case OPT_HELP:
            usage(stdout);
            exit(0);
        case OPT_VER:
            printf("kinesind %s\n", KN_VERSION);
            exit(0);
        case ':':
            fprintf(stderr, "kinesind: %s needs a value (see --help)\n", argv[optind - 1]);
            return -1;
        default:
            fprintf(stderr, "kinesind: unknown option '%s' (see --help)\n", argv[optind - 1]);
            return -1;
        }
    }
    if (optind < argc) {
        fprintf(stderr, "kinesind: unexpected argument '%s' (see --help)\n", argv[optind]);
        return -1;
    }
    if ((cfg->tls_port != 0) != (cfg->tls_cert != NULL) ||
        (cfg->tls_cert != NULL) != (cfg->tls_key != NULL)) {
        fprintf(stderr, "kinesind: --tls-port, --tls-cert and --tls-key go together (see --help)\n");
        return -1;
    }
    if (cfg->auth_sigv4 != (cfg->credentials_file != NULL)) {
        fprintf(stderr, "kinesind: --auth sigv4 and --credentials FILE go together (see --help)\n");
        return -1;
    }
    cfg->dashboard = dashboard < 0 ? !cfg->auth_sigv4 : dashboard == 1;
    return 0;
}

static void env_config(kn_config *cfg)
{
    const char *acct = getenv("AWS_ACCOUNT_ID");
    size_t n = 0;
    if (acct)
        for (const char *p = acct; *p && n < 12; p++)
            if (*p >= '0' && *p <= '9') cfg->account[n++] = *p;
    if (n == 0) {
        memcpy(cfg->account, "000000000000", 12);
        n = 12;
    }
    while (n < 12) { /* left-pad short ids with zeros */
        memmove(cfg->account + 1, cfg->account, n++);
        cfg->account[0] = '0';
    }
    cfg->account[12] = '\0';
    const char *region = getenv("AWS_REGION");
    if (!region || !*region) region = getenv("AWS_DEFAULT_REGION");
    snprintf(cfg->region, sizeof cfg->region, "%s", region && *region ? region : "us-east-1");
}

/* Creates the data directory and takes its lock so two servers never share it. */
static int open_data_dir(const kn_config *cfg, int *lock_fd)
{
    if (kn_vfs_posix()->ops->mkdirs(kn_vfs_posix(), cfg->data_dir) < 0) {
        fprintf(stderr, "kinesind: --data-dir %s: cannot create or use it\n", cfg->data_dir);
        return -1;
    }
    char path[4096];
    snprintf(path, sizeof path, "%s/LOCK", cfg->data_dir);
    int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
    if (fd < 0) {
        fprintf(stderr, "kinesind: --data-dir %s: cannot write to it: %s\n", cfg->data_dir, strerror(errno));
        return -1;
    }
    if (flock(fd, LOCK_EX | LOCK_NB) != 0) {
        fprintf(stderr, "kinesind: --data-dir %s is in use by another kinesind\n", cfg->data_dir);
        close(fd);
        return -1;
    }
    *lock_fd = fd;
    return 0;
}

int main(int argc, char **argv)
{
    kn_server srv;
    memset(&srv, 0, sizeof srv);
    kn_config *cfg = &srv.cfg;
    cfg->host = "127.0.0.1";
    cfg->port = 4567;
    cfg->data_dir = "./kinesin-data";
    cfg->create_stream_ms = cfg->delete_stream_ms = cfg->update_stream_ms = 500;
    cfg->subscription_ms = 5 * 60 * 1000;
    cfg->create_table_ms = 500;
    cfg->shard_limit = 1000;
    cfg->segment_bytes = 64u << 20;
    cfg->fsync_mode = KN_FSYNC_ALWAYS;
    cfg->fsync_interval_ms = 1000;
    cfg->checkpoint_bytes = 64u << 20;
    cfg->checkpoint_ms = 10000;
    cfg->retention_check_ms = 60000;
    cfg->max_connections = 1024;
    cfg->request_timeout_ms = 10000;
    if (parse_args(argc, argv, cfg, &srv.faults) < 0) {
        kn_faults_free(srv.faults);
        return 2;
    }
    kn_json_hooks_install();
    env_config(cfg);

    int lock_fd = -1, rc = 1;
    if (cfg->auth_sigv4 && kn_auth_load(cfg->credentials_file, &srv.auth) < 0) return 2;
    if (cfg->in_memory) {
        srv.vfs = kn_vfs_mem_new();
        if (kn_catalog_open(":memory:", &srv.catalog) < 0) goto out;
    } else {
        if (open_data_dir(cfg, &lock_fd) < 0) goto out;
        srv.vfs = kn_vfs_posix();
        char path[4096];
        snprintf(path, sizeof path, "%s/catalog.db", cfg->data_dir);
        if (kn_catalog_open(path, &srv.catalog) < 0) {
            fprintf(stderr, "kinesind: --data-dir %s: cannot open the catalog\n", cfg->data_dir);
            goto out;
        }
        snprintf(path, sizeof path, "%s/journal", cfg->data_dir);
        if (kn_journal_open(srv.vfs, path, &srv.journal) < 0) {
            fprintf(stderr, "kinesind: --data-dir %s: cannot open the journal\n", cfg->data_dir);
            goto out;
        }
    }
    if (kn_catalog_secret(srv.catalog, srv.iter_key) < 0) goto out;
    int64_t t0 = kn_mono_ms();
    if (kn_registry_load(&srv) < 0) {
        fprintf(stderr, "kinesind: cannot recover the streams in %s\n", cfg->data_dir);
        goto out;
    }
    kn_registry_retention(&srv, kn_now_ms());
    if (kn_http_listen(&srv) < 0) goto out;

    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);
    signal(SIGPIPE, SIG_IGN);
    if (srv.faults) {
        sa.sa_handler = on_sighup; /* --fault-file: reread now */
        sigaction(SIGHUP, &sa, NULL);
    }

    kn_info("kinesind %s listening on %s:%d (%s, account %s, region %s, %zu streams recovered in %lld ms)",
            KN_VERSION, cfg->host, cfg->port, cfg->in_memory ? "in memory" : cfg->data_dir, cfg->account,
            cfg->region, srv.nstreams, (long long)(kn_mono_ms() - t0));
    kn_dashboard_start();
    if (cfg->dashboard)
        kn_info("dashboard: http://%s:%d/ (metrics: http://%s:%d/metrics)", cfg->host, cfg->port, cfg->host,
                cfg->port);
    if (!srv.auth && strncmp(cfg->host, "127.", 4) != 0)
        kn_warn(
            "listening on %s without authentication (--auth none): anyone who can reach this port can read "
            "and write every stream; use --auth sigv4 --credentials FILE",
            cfg->host);
    if (srv.faults) kn_faults_log(srv.faults);
    rc = kn_http_run(&srv, &stop_int) < 0 ? 1 : 0;
    kn_info("kinesind stopping");
    kn_commit_free(&srv);
    kn_http_free();
out:
    kn_commit_free(&srv);
    kn_registry_free(&srv);
    kn_journal_close(srv.journal);
    kn_catalog_close(srv.catalog);
    if (cfg->in_memory && srv.vfs) kn_vfs_mem_free(srv.vfs);
    if (lock_fd >= 0) close(lock_fd);
    kn_auth_free(srv.auth);
    kn_faults_free(srv.faults);
    return rc;
}
