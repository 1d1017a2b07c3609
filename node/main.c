/* keyraft-server entry point: the command line of redis-server 7.0
 * (`keyraft-server [/path/to/keyraft.conf] [--directive value ...] [-]`),
 * daemonizing, the pid file, and the start and exit log lines. */
#include "node/cluster_mode.h"
#include "node/cluster_shard.h"
#include "node/config.h"
#include "node/info.h"
#include "node/log.h"
#include "node/metrics.h"
#include "node/persist.h"
#include "node/server.h"
#include "node/shard.h"
#include "node/version.h"

#include <errno.h>
#include <stdbool.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* Redis uses /var/run/redis.pid when daemonized without a pidfile. */
#define DEFAULT_PIDFILE "/var/run/keyraft.pid"

static void usage(void) {
    fprintf(stderr, "Usage: ./keyraft-server [/path/to/keyraft.conf] [options] [-]\n"
                    "       ./keyraft-server - (read config from stdin)\n"
                    "       ./keyraft-server -v or --version\n"
                    "       ./keyraft-server -h or --help\n\n"
                    "Examples:\n"
                    "       ./keyraft-server (run the server with default conf)\n"
                    "       echo 'maxmemory 128mb' | ./keyraft-server -\n"
                    "       ./keyraft-server /etc/keyraft/6379.conf\n"
                    "       ./keyraft-server --port 7777\n"
                    "       ./keyraft-server /etc/mykeyraft.conf --loglevel verbose -\n");
}

static void fatal_config(const char *what) {
    fprintf(stderr, "\n*** FATAL CONFIG FILE ERROR (Redis %s) ***\n%s\n", KEYRAFT_REDIS_VERSION,
            what);
}

/* Redis daemonize(): the parent exits at once with 0; the child leaves the
 * terminal and points stdio at /dev/null (so an empty logfile logs nowhere). */
static void daemonize(void) {
    pid_t pid = fork();
    if (pid < 0) {
        perror("fork");
        exit(1);
    }
    if (pid > 0)
        exit(0);
    setsid();
    int fd = open("/dev/null", O_RDWR);
    if (fd >= 0) {
        dup2(fd, STDIN_FILENO);
        dup2(fd, STDOUT_FILENO);
        dup2(fd, STDERR_FILENO);
        if (fd > STDERR_FILENO)
            close(fd);
    }
}

/* Written to a temporary name and renamed, so whoever polls for the pidfile
 * never reads it empty or half written. */
static void write_pidfile(void) {
    char tmp[4096];
    int n = snprintf(tmp, sizeof(tmp), "%s.tmp-%d", cfg.pidfile, (int)getpid());
    FILE *f = n > 0 && (size_t)n < sizeof(tmp) ? fopen(tmp, "w") : NULL;
    if (f == NULL) {
        log_warning("Failed to write PID file: %s",
                    n > 0 && (size_t)n < sizeof(tmp) ? strerror(errno) : "path too long");
        return;
    }
    bool written = fprintf(f, "%d\n", (int)getpid()) > 0;
    if (fclose(f) != 0 || !written || rename(tmp, cfg.pidfile) != 0) {
        log_warning("Failed to write PID file: %s", strerror(errno));
        unlink(tmp);
    }
}

int main(int argc, char **argv) {
    if (argc == 2 && (strcmp(argv[1], "-v") == 0 || strcmp(argv[1], "--version") == 0)) {
        printf("keyraft server v=%s redis_version=%s bits=%d\n", KEYRAFT_VERSION,
               KEYRAFT_REDIS_VERSION, (int)(sizeof(long) * 8));
        return 0;
    }
    if (argc == 2 && (strcmp(argv[1], "-h") == 0 || strcmp(argv[1], "--help") == 0)) {
        usage();
        return 0;
    }
    config_init_defaults();
    /* Redis: a first argument not starting with '-' is the config file. */
    const char *conf_path = NULL;
    int first_opt = 1;
    if (argc >= 2 && argv[1][0] != '-') {
        conf_path = argv[1];
        first_opt = 2;
    }
    char err[2048];
    int rc = config_load(conf_path, argc - first_opt, argv + first_opt, err, sizeof(err));
    if (rc == CONFIG_EBADLINE) {
        fatal_config(err);
        goto err_after_config;
    }
    if (rc != 0) {
        log_warning("%s", err);
        goto err_after_config;
    }
    if (cfg.logfile[0] != '\0') {
        FILE *f = fopen(cfg.logfile, "a");
        if (f == NULL) {
            snprintf(err, sizeof(err), "Can't open the log file: %s", strerror(errno));
            fatal_config(err);
            goto err_after_config;
        }
        fclose(f);
    }
    if (cfg.daemonize) {
        if (cfg.pidfile[0] == '\0') {
            char *def = strdup(DEFAULT_PIDFILE);
            if (def == NULL)
                goto err_after_config;
            free(cfg.pidfile);
            cfg.pidfile = def;
        }
        daemonize();
    }
    log_warning("oO0OoO0OoO0Oo keyraft is starting oO0OoO0OoO0Oo");
    log_warning("keyraft version=%s, redis_version=%s, bits=%d, pid=%d, just started",
                KEYRAFT_VERSION, KEYRAFT_REDIS_VERSION, (int)(sizeof(long) * 8), (int)getpid());
    log_warning("Configuration loaded");
    config_log_ignored();
    if (server_init() != 0 || cluster_mode_start() != 0 || shard_init() != 0 ||
        cluster_shard_start() != 0 || server_listen() != 0 || metrics_start() != 0 ||
        persist_start_loading() != 0)
        goto err_after_config;
    info_note_startup();
    if (cfg.pidfile[0] != '\0')
        write_pidfile();
    log_notice("Running mode=%s, port=%lld.", cfg.cluster_enabled ? "cluster" : "standalone",
               cfg.port);
    log_notice("Server initialized");
    log_notice("Ready to accept connections tcp");
    server_run();
    if (persist_shutdown() != 0)
        server.exit_code = 1;
    log_warning("User requested shutdown...");
    if (cfg.pidfile[0] != '\0') {
        log_notice("Removing the pid file.");
        unlink(cfg.pidfile);
    }
    log_warning("keyraft is now ready to exit, bye bye...");
    int code = server.exit_code;
    cluster_mode_close();
    server_close();
    config_free();
    return code;

err_after_config:
    config_free();
    return 1;
}
