// SPDX-License-Identifier: MIT
/*
 * lib/cache/pc_lru.c: least-recently-used eviction, one list a shard: a
 * hit moves its page to the head, the victim is the tail.  The yardstick
 * S3-FIFO is measured against (bench/pc_bench -P lru): every hit writes
 * the links of three pages where S3-FIFO bumps a counter, and a one-pass
 * scan longer than the shard flushes every hot page.
 */
#include <stdlib.h>

#include "pc_internal.h"

static void *lru_create(uint32_t cap)
{
	(void)cap;
	return calloc(1, sizeof(struct pc_queue));
}

static void lru_destroy(void *pol)
{
	free(pol);
}

static void lru_insert(void *pol, struct pc_page *p)
{
	pc_queue_push(pol, p);
}

static void lru_hit(void *pol, struct pc_page *p)
{
	struct pc_queue *q = pol;

	if (q->head == p)
		return;
	pc_queue_remove(q, p);
	pc_queue_push(q, p);
}

static void lru_remove(void *pol, struct pc_page *p)
{
	pc_queue_remove(pol, p);
}

static struct pc_page *lru_victim(void *pol)
{
	return ((struct pc_queue *)pol)->tail;
}

const struct pc_policy_ops pc_policy_lru = {
	.name = "lru",
	.create = lru_create,
	.destroy = lru_destroy,
	.insert = lru_insert,
	.hit = lru_hit,
	.remove = lru_remove,
	.victim = lru_victim,
};
