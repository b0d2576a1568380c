/* kinesin-kcl's own Prometheus metrics, served on the optional `kinesinMetricsPort` property
 * (0 or absent: off) at GET /metrics on 127.0.0.1 (`kinesinMetricsHost` to change it).
 *
 * The worker loop owns the counters (kcl_metrics in kcl_worker) and polls the listening
 * socket with its other descriptors; each connection is answered at once and closed, waiting
 * at most KCL_METRICS_READ_MS for the request line, so a silent client costs the loop that
 * long at worst. */
#ifndef KN_KCL_METRICS_H
#define KN_KCL_METRICS_H

#include <stdint.h>

#define KCL_METRICS_READ_MS 100

typedef struct kcl_worker kcl_worker;

typedef struct kcl_metrics {
    int fd;                     /* listening socket, -1 when off */
    uint64_t records_processed; /* user records sent to processRecords */
    uint64_t child_failures;    /* record processors that failed: each costs its lease, restarted after backoff */
    uint64_t child_starts;      /* record processors started */
} kcl_metrics;

/* Listens on host:port; 0, or -1 with the reason logged. */
int kcl_metrics_listen(kcl_metrics *m, const char *host, int port);
/* Answers the connections waiting on m->fd (after poll said it is readable). */
void kcl_metrics_serve(kcl_metrics *m, const kcl_worker *w);
void kcl_metrics_close(kcl_metrics *m);

#endif
