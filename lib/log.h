/* SPDX-License-Identifier: MIT */
/* Messages to the domain's log callback (eshare_domain_opts.log). */
#ifndef ESHARE_LOG_H
#define ESHARE_LOG_H

#include <erofs_share/erofs_share.h>

/* Format a message (at most 511 bytes) and give it to @d's log callback, if any. */
void eshare_log(eshare_domain *d, int level, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

#endif
