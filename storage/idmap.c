/* Ordered stream-ID map (see idmap.h): a skiplist with backward links on
 * level 0. Levels are derived from the ID (p = 1/4 per level, as Redis's
 * zset skiplist), so the structure is a function of its contents. */
#include "storage/idmap.h"

#include "storage/mem.h"
#include "storage/storage.h"

#include <string.h>

#define MAX_LEVEL 32

struct idmap_node {
    struct stream_id id;
    void *value;
    struct idmap_node *prev;
    int level;
    struct idmap_node *next[]; /* 'level' forward links */
};

struct idmap {
    struct idmap_node *head; /* sentinel with MAX_LEVEL links */
    struct idmap_node *tail;
    int level;
    size_t len;
    size_t bytes;
};

static int level_for(const struct stream_id *id) {
    /* splitmix64 of the ID: a well-spread, reproducible bit source. */
    uint64_t z = id->ms * 0x9e3779b97f4a7c15ULL ^ id->seq;
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    z ^= z >> 31;
    int level = 1;
    while (level < MAX_LEVEL && (z & 3) == 0) {
        level++;
        z >>= 2;
    }
    return level;
}

static struct idmap_node *node_new(int level) {
    struct idmap_node *n = mem_alloc(sizeof(*n) + (size_t)level * sizeof(n->next[0]));
    if (n != NULL) {
        memset(n, 0, sizeof(*n) + (size_t)level * sizeof(n->next[0]));
        n->level = level;
    }
    return n;
}

struct idmap *idmap_new(void) {
    struct idmap *m = mem_alloc(sizeof(*m));
    if (m == NULL)
        return NULL;
    memset(m, 0, sizeof(*m));
    m->head = node_new(MAX_LEVEL);
    if (m->head == NULL) {
        mem_free(m);
        return NULL;
    }
    m->level = 1;
    return m;
}

void idmap_free(struct idmap *m, void (*free_value)(void *value)) {
    if (m == NULL)
        return;
    struct idmap_node *n = m->head->next[0];
    while (n != NULL) {
        struct idmap_node *next = n->next[0];
        if (free_value != NULL)
            free_value(n->value);
        mem_free(n);
        n = next;
    }
    mem_free(m->head);
    mem_free(m);
}

size_t idmap_len(const struct idmap *m) {
    return m->len;
}

size_t idmap_mem_bytes(const struct idmap *m) {
    return mem_usable(m) + mem_usable(m->head) + m->bytes;
}

/* Fills 'update' with the last node before 'id' on every level. */
static void find_predecessors(const struct idmap *m, const struct stream_id *id,
                              struct idmap_node **update) {
    struct idmap_node *x = m->head;
    for (int i = m->level - 1; i >= 0; i--) {
        while (x->next[i] != NULL && stream_id_cmp(&x->next[i]->id, id) < 0)
            x = x->next[i];
        update[i] = x;
    }
}

int idmap_insert(struct idmap *m, const struct stream_id *id, void *value) {
    struct idmap_node *update[MAX_LEVEL];
    find_predecessors(m, id, update);
    int level = level_for(id);
    struct idmap_node *n = node_new(level);
    if (n == NULL)
        return STORAGE_ENOMEM;
    n->id = *id;
    n->value = value;
    if (level > m->level) {
        for (int i = m->level; i < level; i++)
            update[i] = m->head;
        m->level = level;
    }
    for (int i = 0; i < level; i++) {
        n->next[i] = update[i]->next[i];
        update[i]->next[i] = n;
    }
    n->prev = update[0] == m->head ? NULL : update[0];
    if (n->next[0] != NULL)
        n->next[0]->prev = n;
    else
        m->tail = n;
    m->len++;
    m->bytes += mem_usable(n);
    return STORAGE_OK;
}

void *idmap_remove(struct idmap *m, const struct stream_id *id) {
    struct idmap_node *update[MAX_LEVEL];
    find_predecessors(m, id, update);
    struct idmap_node *n = update[0]->next[0];
    if (n == NULL || stream_id_cmp(&n->id, id) != 0)
        return NULL;
    for (int i = 0; i < m->level; i++)
        if (update[i]->next[i] == n)
            update[i]->next[i] = n->next[i];
    if (n->next[0] != NULL)
        n->next[0]->prev = n->prev;
    else
        m->tail = n->prev;
    while (m->level > 1 && m->head->next[m->level - 1] == NULL)
        m->level--;
    void *value = n->value;
    m->len--;
    m->bytes -= mem_usable(n);
    mem_free(n);
    return value;
}

struct idmap_node *idmap_seek(const struct idmap *m, const struct stream_id *id) {
    if (id == NULL)
        return m->head->next[0];
    struct idmap_node *update[MAX_LEVEL];
    find_predecessors(m, id, update);
    return update[0]->next[0];
}

struct idmap_node *idmap_seek_rev(const struct idmap *m, const struct stream_id *id) {
    if (id == NULL)
        return m->tail;
    struct idmap_node *n = idmap_seek(m, id);
    if (n != NULL && stream_id_cmp(&n->id, id) == 0)
        return n;
    return n != NULL ? n->prev : m->tail;
}

void *idmap_find(const struct idmap *m, const struct stream_id *id) {
    struct idmap_node *n = idmap_seek(m, id);
    return n != NULL && stream_id_cmp(&n->id, id) == 0 ? n->value : NULL;
}

struct idmap_node *idmap_next(const struct idmap_node *n) {
    return n->next[0];
}

struct idmap_node *idmap_prev(const struct idmap_node *n) {
    return n->prev;
}

const struct stream_id *idmap_node_id(const struct idmap_node *n) {
    return &n->id;
}

void *idmap_node_value(const struct idmap_node *n) {
    return n->value;
}
