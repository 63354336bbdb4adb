/* The hand-off of API key snapshots from the store thread to the loop: the store calls
 * hr_keyring_deliver (its keys_changed listener) with every key whenever they change; the
 * newest snapshot waits here until the loop takes it, woken through the callback it set.
 * The first snapshot arrives before the server starts (hr_store_open delivers it), so the
 * server begins with the keys. Any thread for deliver; take and set_wake from the loop. */
#ifndef HR_KEYRING_H
#define HR_KEYRING_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>

#include "daemon/store/store.h"

struct hr_keyring {
    pthread_mutex_t mu;
    struct hr_key *pending; /* newest snapshot not yet taken (n_pending keys), or NULL */
    size_t n_pending;
    bool has_pending;
    void (*wake)(void *ud); /* called (any thread) after a delivery; NULL before start */
    void *wake_ud;
};

void hr_keyring_init(struct hr_keyring *k);
void hr_keyring_deinit(struct hr_keyring *k);
/* The store's keys_changed listener (ud: the keyring). Takes keys. */
void hr_keyring_deliver(void *ud, struct hr_key *keys, size_t n);
/* The newest snapshot, if one came since the last take (caller frees *keys). */
bool hr_keyring_take(struct hr_keyring *k, struct hr_key **keys, size_t *n);
/* Sets (or, with NULL, clears before its target goes away) the wake-up. */
void hr_keyring_set_wake(struct hr_keyring *k, void (*wake)(void *ud), void *ud);

#endif
