// SPDX-License-Identifier: MIT
/* Messages to the domain's log callback. */
#include <stdarg.h>
#include <stdio.h>

#include "domain.h"
#include "log.h"

void eshare_log(eshare_domain *d, int level, const char *fmt, ...)
{
	char msg[512];
	va_list ap;

	if (!d->opts.log)
		return;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	d->opts.log(d->opts.log_user, level, msg);
}
