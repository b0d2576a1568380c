/* TCP listening sockets, shared by kinesind's listeners and kinesin-kcl's metrics port. */
#ifndef KN_BASE_NET_H
#define KN_BASE_NET_H

/* A listening socket (close-on-exec, SO_REUSEADDR, TCP_NODELAY for what it accepts) on the
 * IPv4 address host and port; or -1 with the reason logged, naming the address by flag (the
 * option or property it came from). */
int kn_tcp_listen(const char *flag, const char *host, int port);

#endif
