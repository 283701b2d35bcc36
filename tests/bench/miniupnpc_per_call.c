/* The engine's side of tests/bench/per-call-instructions.sh: PAIRS AddPortMapping /
 * DeletePortMapping pairs through miniupnpc (the library Godot's UPNP is built on), the
 * same calls UPNPDevice.add_port_mapping/delete_port_mapping make.
 *
 *   miniupnpc_per_call CONTROL_URL SERVICE_TYPE LOCAL_ADDR PAIRS
 *
 * Linked against the system's libminiupnpc (Debian ships the library, not its headers), so
 * the two functions are declared here as miniupnpc's upnpcommands.h declares them. */
#include <stdio.h>
#include <stdlib.h>

int UPNP_AddPortMapping(const char *controlURL, const char *servicetype, const char *extPort,
                        const char *inPort, const char *inClient, const char *desc,
                        const char *proto, const char *remoteHost, const char *leaseDuration);
int UPNP_DeletePortMapping(const char *controlURL, const char *servicetype, const char *extPort,
                           const char *proto, const char *remoteHost);

int main(int argc, char **argv) {
    if (argc != 5) {
        fprintf(stderr, "usage: miniupnpc_per_call CONTROL_URL SERVICE_TYPE LOCAL_ADDR PAIRS\n");
        return 2;
    }
    long pairs = strtol(argv[4], NULL, 10);
    long done = 0;
    for (long i = 0; i < pairs; i++) {
        char port[8];
        snprintf(port, sizeof port, "%ld", 40000 + i % 1000);
        int r = UPNP_AddPortMapping(argv[1], argv[2], port, port, argv[3], "gdnat per-call bench", "UDP", "", "0");
        if (r != 0) {
            fprintf(stderr, "miniupnpc_per_call: add %s: %d\n", port, r);
            return 1;
        }
        r = UPNP_DeletePortMapping(argv[1], argv[2], port, "UDP", "");
        if (r != 0) {
            fprintf(stderr, "miniupnpc_per_call: delete %s: %d\n", port, r);
            return 1;
        }
        done++;
    }
    printf("pairs=%ld\n", done);
    return 0;
}
