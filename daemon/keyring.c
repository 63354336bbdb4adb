/* Key snapshot hand-off (see keyring.h): one mutex, one slot; a newer snapshot replaces one
 * the loop has not taken yet, since only the latest state of the keys matters. */
#include "keyring.h"

#include <stdlib.h>

void hr_keyring_init(struct hr_keyring *k)
{
    pthread_mutex_init(&k->mu, NULL);
    k->pending = NULL;
    k->n_pending = 0;
    k->has_pending = false;
    k->wake = NULL;
    k->wake_ud = NULL;
}

void hr_keyring_deinit(struct hr_keyring *k)
{
    free(k->pending);
    k->pending = NULL;
    pthread_mutex_destroy(&k->mu);
}

void hr_keyring_deliver(void *ud, struct hr_key *keys, size_t n)
{
    struct hr_keyring *k = ud;
    pthread_mutex_lock(&k->mu);
    free(k->pending);
    k->pending = keys;
    k->n_pending = n;
    k->has_pending = true;
    if (k->wake)
        k->wake(k->wake_ud); /* under the lock, so set_wake(NULL) waits for it */
    pthread_mutex_unlock(&k->mu);
}

bool hr_keyring_take(struct hr_keyring *k, struct hr_key **keys, size_t *n)
{
    pthread_mutex_lock(&k->mu);
    bool had = k->has_pending;
    *keys = k->pending;
    *n = k->n_pending;
    k->pending = NULL;
    k->n_pending = 0;
    k->has_pending = false;
    pthread_mutex_unlock(&k->mu);
    return had;
}

void hr_keyring_set_wake(struct hr_keyring *k, void (*wake)(void *ud), void *ud)
{
    pthread_mutex_lock(&k->mu);
    k->wake = wake;
    k->wake_ud = ud;
    pthread_mutex_unlock(&k->mu);
}
