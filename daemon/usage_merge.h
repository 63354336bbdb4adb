/* Several replicas' usage ledgers as one report: `hearth usage --db a.db --db b.db` queries
 * each database and merges groups of the same name (a day, a model, a key name, a user),
 * summing counts and weighting the means by requests. Main thread (a CLI). */
#ifndef HR_USAGE_MERGE_H
#define HR_USAGE_MERGE_H

#include <stddef.h>

#include "daemon/store/store.h"

/* Adds the n groups g (ordered by group, as hr_store_usage_query returns them) into *acc
 * (*n_acc groups, malloc'd, ordered by group), which it grows. Keys are matched by name, so
 * replicas provisioned with the same key names add up; a name whose ids differ keeps the
 * first database's id. 0, or HR_ENOMEM (then *acc is unchanged). */
int hr_usage_merge(struct hr_usage_group **acc, size_t *n_acc, const struct hr_usage_group *g,
                   size_t n);

#endif
