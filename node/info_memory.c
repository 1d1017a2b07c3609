/* INFO memory (see info.h, info_internal.h): the memory figures shared with
 * MEMORY STATS, the peak, the baseline taken at startup, and the Memory
 * section in Redis 7.0's field order. Figures for machinery keyraft lacks
 * (jemalloc statistics, active defrag, replica and AOF buffers) are printed
 * as Redis 7.0 prints them when that machinery is absent or off; the rest
 * of the report is info.c's. */
#include "node/info.h"
#include "node/info_internal.h"

#include "node/client.h"
#include "node/cluster_bus.h"
#include "node/config.h"
#include "node/config_table.h"
#include "node/function.h"
#include "node/script.h"
#include "node/server.h"
#include "storage/keyspace.h"
#include "storage/mem.h"

#include <stdio.h>
#include <unistd.h>

static size_t peak_memory;
static size_t startup_memory;

/* Bytes of client buffers: malloc'ed outside storage/mem, but memory the
 * server uses all the same (Redis counts them in used_memory too). */
static size_t client_buffers_bytes(void) {
    size_t total = 0;
    for (const struct client *c = server.clients; c != NULL; c = c->next)
        total += sizeof(*c) + c->qcap + c->out.cap + c->inflight.cap;
    return total;
}

static size_t rss_bytes(void) {
    FILE *f = fopen("/proc/self/statm", "r");
    if (f == NULL)
        return 0;
    unsigned long size_pages = 0, resident_pages = 0;
    int fields = fscanf(f, "%lu %lu", &size_pages, &resident_pages);
    fclose(f);
    return fields == 2 ? resident_pages * (size_t)sysconf(_SC_PAGESIZE) : 0;
}

void info_memory_track_peak(void) {
    size_t used = mem_used() + client_buffers_bytes();
    if (used > peak_memory)
        peak_memory = used;
}

void info_note_startup(void) {
    startup_memory = mem_used() + client_buffers_bytes();
}

void info_memory(struct info_memory *m) {
    m->clients = client_buffers_bytes();
    m->overhead = m->clients;
    for (long long i = 0; i < cfg.databases; i++) {
        struct keyspace *ks = server_db_if_exists((int)i);
        if (ks != NULL)
            m->overhead += keyspace_overhead_bytes(ks);
    }
    m->used = mem_used() + m->clients;
    if (m->used > peak_memory)
        peak_memory = m->used;
    m->peak = peak_memory;
    m->dataset = m->used > m->overhead ? m->used - m->overhead : 0;
    m->rss = rss_bytes();
}

/* Scripting memory, after Redis 7.0. keyraft runs EVAL scripts and function
 * libraries in one Lua state, so the whole state is reported as the EVAL
 * VM's and the functions VM as 0 bytes; the total is the state's size. */
static void memory_scripts(struct text *t) {
    size_t vm = script_vm_bytes();
    size_t eval_cache = script_cache_bytes();
    size_t functions = function_memory_bytes();
    char vm_h[32], scripts_h[32];
    bytes_to_human(vm_h, sizeof(vm_h), vm);
    bytes_to_human(scripts_h, sizeof(scripts_h), eval_cache + functions);
    text_printf(t,
                "used_memory_lua:%zu\r\n"
                "used_memory_vm_eval:%zu\r\n"
                "used_memory_lua_human:%s\r\n"
                "used_memory_scripts_eval:%zu\r\n"
                "number_of_cached_scripts:%zu\r\n"
                "number_of_functions:%zu\r\n"
                "number_of_libraries:%zu\r\n"
                "used_memory_vm_functions:0\r\n"
                "used_memory_vm_total:%zu\r\n"
                "used_memory_vm_total_human:%s\r\n"
                "used_memory_functions:%zu\r\n"
                "used_memory_scripts:%zu\r\n"
                "used_memory_scripts_human:%s\r\n",
                vm, vm, vm_h, eval_cache, script_cache_count(), function_count(),
                function_library_count(), vm, vm_h, functions, eval_cache + functions, scripts_h);
}

void info_section_memory(struct text *t) {
    struct info_memory m;
    info_memory(&m);
    size_t used = m.used, overhead = m.overhead, dataset = m.dataset, rss = m.rss;
    size_t system = (size_t)sysconf(_SC_PHYS_PAGES) * (size_t)sysconf(_SC_PAGESIZE);
    char used_h[32], rss_h[32], peak_h[32], system_h[32], max_h[32];
    bytes_to_human(used_h, sizeof(used_h), used);
    bytes_to_human(rss_h, sizeof(rss_h), rss);
    bytes_to_human(peak_h, sizeof(peak_h), peak_memory);
    bytes_to_human(system_h, sizeof(system_h), system);
    bytes_to_human(max_h, sizeof(max_h), (unsigned long long)cfg.maxmemory);
    char policy[64] = "";
    const struct config_directive *d = config_find("maxmemory-policy");
    if (d != NULL)
        config_format(d, policy, sizeof(policy));
    /* Redis 7.0 cronUpdateMemoryStats with an allocator that gives no
     * statistics (libc malloc, as here): allocated is used_memory, resident
     * is the RSS less the Lua state, and active equals resident. Signed
     * here, where Redis would print a negative difference as a huge
     * unsigned number. */
    size_t vm = script_vm_bytes();
    long long allocated = (long long)used;
    long long resident = (long long)rss - (long long)vm;
    long long active = resident;
    text_printf(t,
                "# Memory\r\n"
                "used_memory:%zu\r\n"
                "used_memory_human:%s\r\n"
                "used_memory_rss:%zu\r\n"
                "used_memory_rss_human:%s\r\n"
                "used_memory_peak:%zu\r\n"
                "used_memory_peak_human:%s\r\n"
                "used_memory_peak_perc:%.2f%%\r\n"
                "used_memory_overhead:%zu\r\n"
                "used_memory_startup:%zu\r\n"
                "used_memory_dataset:%zu\r\n"
                "used_memory_dataset_perc:%.2f%%\r\n"
                "allocator_allocated:%lld\r\n"
                "allocator_active:%lld\r\n"
                "allocator_resident:%lld\r\n"
                "total_system_memory:%zu\r\n"
                "total_system_memory_human:%s\r\n",
                used, used_h, rss, rss_h, peak_memory, peak_h,
                peak_memory ? (double)used * 100 / (double)peak_memory : 0.0, overhead,
                startup_memory, dataset, used ? (double)dataset * 100 / (double)used : 0.0,
                allocated, active, resident, system, system_h);
    memory_scripts(t);
    text_printf(t,
                "maxmemory:%lld\r\n"
                "maxmemory_human:%s\r\n"
                "maxmemory_policy:%s\r\n"
                "allocator_frag_ratio:%.2f\r\n"
                "allocator_frag_bytes:%lld\r\n"
                "allocator_rss_ratio:%.2f\r\n"
                "allocator_rss_bytes:%lld\r\n"
                "rss_overhead_ratio:%.2f\r\n"
                "rss_overhead_bytes:%lld\r\n"
                "mem_fragmentation_ratio:%.2f\r\n"
                "mem_fragmentation_bytes:%lld\r\n",
                cfg.maxmemory, max_h, policy, allocated ? (double)active / (double)allocated : 0.0,
                active - allocated, active ? (double)resident / (double)active : 0.0,
                resident - active, resident ? (double)rss / (double)resident : 0.0,
                (long long)rss - resident, used ? (double)rss / (double)used : 0.0,
                (long long)rss - (long long)used);
    /* Replicas are Raft members, not clients with output buffers, and the
     * Raft log replaces the AOF: there is no backlog, replica buffer or AOF
     * buffer to count, so those (and mem_not_counted_for_evict, their sum)
     * are 0. No active defrag runs without jemalloc. */
    text_printf(t,
                "mem_not_counted_for_evict:0\r\n"
                "mem_replication_backlog:0\r\n"
                "mem_total_replication_buffers:0\r\n"
                "mem_clients_slaves:0\r\n"
                "mem_clients_normal:%zu\r\n"
                "mem_cluster_links:%zu\r\n"
                "mem_aof_buffer:0\r\n"
                "mem_allocator:libc\r\n"
                "active_defrag_running:0\r\n"
                "lazyfree_pending_objects:0\r\n"
                "lazyfreed_objects:0\r\n",
                m.clients, cluster_bus_links_bytes());
}
