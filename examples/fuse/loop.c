// SPDX-License-Identifier: MIT
/*
 * erofs-share-fuse: the loop that receives and serves requests.
 *
 * A cold read of small files is mostly round trips: the reader sleeps
 * until its request is answered, and a daemon thread that sleeps in
 * read(2) until the request comes must first be woken (a wakeup of
 * another CPU, two context switches).  On 2 cores that was a third of the
 * daemon's time, and one cold reader took 1.4 to 1.6x the kernel's EROFS.
 * So one thread, the receiver, looks for a request without sleeping for a
 * moment (--spin, 50 us by default) before it sleeps in poll(2): a reader
 * that asks again within that time finds it awake.  It serves what it
 * receives itself; only when more requests are waiting already does it
 * hand them to idle threads (followers), so that several readers are
 * served at once and a lone reader pays no wakeup at all.
 *
 * The receiver is the thread that calls fs_serve(): the main thread, where
 * libfuse's handlers of SIGHUP, SIGINT and SIGTERM run (every other thread
 * of the daemon blocks them), so that they interrupt its sleep.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "fusefs.h"

/* The longest a signal that came just before the receiver slept waits. */
#define EXIT_POLL_MS 250

struct follower {
	pthread_t tid;
	pthread_cond_t cv;
	struct fuse_buf buf;
	bool ready;		/* buf holds a request for it */
	struct follower *next_idle;
	struct serve *sv;
};

struct serve {
	struct fuse_session *se;
	int fd;
	uint64_t spin_ns;
	pthread_mutex_t lock;
	struct follower *idle;	/* followers waiting for a request */
	bool stop;
	struct follower *f;
	unsigned nf;
};

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static void *follower_main(void *arg)
{
	struct follower *f = arg;
	struct serve *sv = f->sv;

	pthread_mutex_lock(&sv->lock);
	for (;;) {
		if (!f->ready) {
			if (sv->stop)
				break;
			f->next_idle = sv->idle;
			sv->idle = f;
			while (!f->ready && !sv->stop)
				pthread_cond_wait(&f->cv, &sv->lock);
			/* the receiver took it off the idle list when it gave it work */
			if (!f->ready) {
				struct follower **pp = &sv->idle;

				while (*pp && *pp != f)
					pp = &(*pp)->next_idle;
				if (*pp)
					*pp = f->next_idle;
				break;
			}
		}
		pthread_mutex_unlock(&sv->lock);
		fuse_session_process_buf(sv->se, &f->buf);
		pthread_mutex_lock(&sv->lock);
		f->ready = false;
	}
	pthread_mutex_unlock(&sv->lock);
	return NULL;
}

/*
 * While followers are idle and requests are waiting, give one to each:
 * receive straight into an idle follower's buffer, without sleeping.
 * Returns 0, or what fuse_session_receive_buf() returned that ends the
 * loop (0 once the session is gone, or a negative errno).
 */
static int hand_out(struct serve *sv, bool *ended)
{
	for (;;) {
		struct follower *f;
		int res;

		pthread_mutex_lock(&sv->lock);
		f = sv->idle;
		if (f)
			sv->idle = f->next_idle;
		pthread_mutex_unlock(&sv->lock);
		if (!f)
			return 0;
		res = fuse_session_receive_buf(sv->se, &f->buf);
		pthread_mutex_lock(&sv->lock);
		if (res > 0) {
			f->ready = true;
			pthread_cond_signal(&f->cv);
		} else {
			/* nothing waiting (or the end): it stays idle */
			f->next_idle = sv->idle;
			sv->idle = f;
		}
		pthread_mutex_unlock(&sv->lock);
		if (res > 0)
			continue;
		if (res == -EAGAIN || res == -EINTR)
			return 0;
		*ended = true;
		return res;
	}
}

/*
 * Receive the next request into @buf: look for one for up to spin_ns, then
 * sleep in poll().  > 0 when @buf holds one; 0 when the session ended; a
 * negative errno.  An exit signal interrupts the sleep; one that comes
 * between the look at fuse_session_exited() and the sleep is seen at the
 * poll's timeout.
 */
static int receive(struct serve *sv, struct fuse_buf *buf)
{
	uint64_t until = 0;

	for (unsigned tries = 0;; tries++) {
		struct pollfd pfd = { .fd = sv->fd, .events = POLLIN };
		int res;

		if (fuse_session_exited(sv->se))
			return 0;
		res = fuse_session_receive_buf(sv->se, buf);
		if (res > 0)
			return res;
		if (res == -EINTR)
			continue;
		if (res != -EAGAIN)
			return res;
		if (sv->spin_ns) {
			/* the clock is read every eighth look only */
			if (!until)
				until = now_ns() + sv->spin_ns;
			if ((tries & 7) || now_ns() < until)
				continue;
		}
		if (poll(&pfd, 1, EXIT_POLL_MS) < 0 && errno != EINTR)
			return -errno;
		until = 0;
	}
}

int fs_serve(struct fuse_session *se, unsigned threads, unsigned spin_us)
{
	struct serve sv = { .se = se, .fd = fuse_session_fd(se),
			    .spin_ns = (uint64_t)spin_us * 1000u };
	struct fuse_buf buf = { .mem = NULL };
	sigset_t all, old;
	int flags, res = 0;
	bool ended = false;
	unsigned i;

	flags = fcntl(sv.fd, F_GETFL);
	if (flags < 0 || fcntl(sv.fd, F_SETFL, flags | O_NONBLOCK) < 0)
		return -errno;
	pthread_mutex_init(&sv.lock, NULL);
	sv.nf = threads > 1 ? threads - 1 : 0;
	sv.f = sv.nf ? calloc(sv.nf, sizeof(*sv.f)) : NULL;
	if (sv.nf && !sv.f)
		sv.nf = 0;	/* serve alone rather than not at all */
	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	for (i = 0; i < sv.nf; i++) {
		sv.f[i].sv = &sv;
		pthread_cond_init(&sv.f[i].cv, NULL);
		if (pthread_create(&sv.f[i].tid, NULL, follower_main, &sv.f[i])) {
			pthread_cond_destroy(&sv.f[i].cv);
			break;
		}
	}
	sv.nf = i;
	pthread_sigmask(SIG_SETMASK, &old, NULL);

	while (!ended) {
		res = receive(&sv, &buf);
		if (res <= 0)
			break;
		if (sv.nf && (res = hand_out(&sv, &ended)) < 0)
			ended = true;
		fuse_session_process_buf(se, &buf);
	}
	pthread_mutex_lock(&sv.lock);
	sv.stop = true;
	for (i = 0; i < sv.nf; i++)
		pthread_cond_signal(&sv.f[i].cv);
	pthread_mutex_unlock(&sv.lock);
	for (i = 0; i < sv.nf; i++) {
		pthread_join(sv.f[i].tid, NULL);
		pthread_cond_destroy(&sv.f[i].cv);
		free(sv.f[i].buf.mem);
	}
	free(sv.f);
	free(buf.mem);
	pthread_mutex_destroy(&sv.lock);
	fcntl(sv.fd, F_SETFL, flags);
	/* a session ended by a signal or an unmount is a clean end */
	return res < 0 ? res : 0;
}
