/* keyraft-server entry point: command line as redis-server's
 * (`keyraft-server [/path/to/keyraft.conf] [--directive value ...]`). */
#include "node/config.h"
#include "node/log.h"
#include "node/server.h"
#include "node/version.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static void usage(void) {
    fprintf(stderr, "Usage: ./keyraft-server [/path/to/keyraft.conf] [options] [-]\n"
                    "       ./keyraft-server - (read config from stdin)\n"
                    "       ./keyraft-server -v or --version\n"
                    "       ./keyraft-server -h or --help\n\n"
                    "Examples:\n"
                    "       ./keyraft-server (run the server with default conf)\n"
                    "       ./keyraft-server /etc/keyraft/6379.conf\n"
                    "       ./keyraft-server --port 7777\n");
}

static int write_pidfile(void) {
    if (cfg.pidfile == NULL || cfg.pidfile[0] == '\0')
        return 0;
    FILE *f = fopen(cfg.pidfile, "w");
    if (f == NULL)
        return -1;
    fprintf(f, "%d\n", (int)getpid());
    fclose(f);
    return 0;
}

int main(int argc, char **argv) {
    if (argc >= 2 && (strcmp(argv[1], "-v") == 0 || strcmp(argv[1], "--version") == 0)) {
        printf("keyraft server v=%s redis_version=%s bits=%d\n", KEYRAFT_VERSION,
               KEYRAFT_REDIS_VERSION, (int)(sizeof(long) * 8));
        return 0;
    }
    if (argc >= 2 && (strcmp(argv[1], "-h") == 0 || strcmp(argv[1], "--help") == 0)) {
        usage();
        return 0;
    }
    config_init_defaults();
    const char *conf_path = NULL;
    int first_opt = 1;
    if (argc >= 2 && strncmp(argv[1], "--", 2) != 0) {
        conf_path = argv[1];
        first_opt = 2;
    }
    char err[1024];
    if (config_load(conf_path, argc - first_opt, argv + first_opt, err, sizeof(err)) != 0) {
        fprintf(stderr, "\n*** FATAL CONFIG FILE ERROR (keyraft %s) ***\n%s\n", KEYRAFT_VERSION,
                err);
        config_free();
        return 1;
    }
    if (cfg.daemonize && daemon(1, 0) != 0) {
        perror("daemonize");
        return 1;
    }
    log_notice("oO0OoO0OoO0Oo keyraft is starting oO0OoO0OoO0Oo");
    log_notice("keyraft version=%s, bits=%d, pid=%d, just started", KEYRAFT_VERSION,
               (int)(sizeof(long) * 8), (int)getpid());
    if (server_init() != 0) {
        config_free();
        return 1;
    }
    if (write_pidfile() != 0)
        log_warning("Failed to write PID file: %s", cfg.pidfile);
    log_notice("Ready to accept connections tcp");
    server_run();
    log_warning("keyraft is now ready to exit, bye bye...");
    if (cfg.pidfile != NULL && cfg.pidfile[0] != '\0')
        unlink(cfg.pidfile);
    int code = server.exit_code;
    server_close();
    config_free();
    return code;
}
