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
 * that asks again within that time finds it awake.  Having received one,
 * it makes a waiting thread the receiver and serves the request itself
 * (leader and followers): some thread always receives, so requests are
 * served in parallel and one that needs another of this mount to finish
 * cannot stall it.
 *
 * The receiver is the thread that calls fs_serve(): the main thread, where
 * libfuse's handlers of SIGHUP, SIGINT and SIGTERM run (every other thread
 * of the daemon blocks them), so that they interrupt its sleep.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "fusefs.h"

/* Receives that sleep at once after a look found nothing. */
#define SPIN_BACKOFF 16

/* The longest a signal that came just before the receiver slept waits. */
#define EXIT_POLL_MS 250

struct worker {
	pthread_t tid;
	pthread_cond_t cv;
	struct worker *next_idle;
	bool promoted;		/* made the receiver by the one before */
	struct serve *sv;
	struct fuse_buf buf;
};

struct serve {
	struct fuse_session *se;
	int fd;
	uint64_t spin_ns;
	unsigned spin_skip;	/* receives that sleep at once (the receiver's) */
	pthread_mutex_t lock;
	bool receiving;		/* a worker is the receiver (or made one) */
	struct worker *idle;	/* workers waiting to be made the receiver */
	bool stop;
	int err;
	struct worker *w;	/* [0] is the caller's */
	unsigned nw;
};

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/*
 * Receive the next request into @buf: look for one for up to spin_ns, then
 * sleep in poll() (and never look without sleeping again until a request
 * came: an idle mount costs no CPU).  > 0 when @buf holds one; 0 when the
 * session ended; a negative errno.  An exit signal interrupts the sleep of
 * the caller's thread; one that comes while another sleeps, or just before,
 * is seen at the poll's timeout.
 */
static int receive(struct serve *sv, struct fuse_buf *buf)
{
	uint64_t until = 0;
	bool spun = !sv->spin_ns || sv->spin_skip;

	if (sv->spin_skip)
		sv->spin_skip--;

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
		if (!spun) {
			/*
			 * A thread that has work on this CPU (the reader, or
			 * the worker serving the last request) runs first:
			 * looking must not slow a loaded machine down.  The
			 * clock is read every eighth look only.
			 */
			sched_yield();
			if (!until)
				until = now_ns() + sv->spin_ns;
			if ((tries & 7) || now_ns() < until)
				continue;
			/*
			 * Nothing came: the readers are slower than the look
			 * (a loaded machine, or none reading).  Sleep at once
			 * for the next few requests, then look again.
			 */
			spun = true;
			sv->spin_skip = SPIN_BACKOFF;
		}
		if (poll(&pfd, 1, EXIT_POLL_MS) < 0 && errno != EINTR)
			return -errno;
	}
}

/*
 * One worker: become the receiver (or wait to be made one), receive a
 * request, make a waiting worker the receiver, and serve the request.  So
 * a thread always receives while others serve, even one request that waits
 * for another of this mount (an image read through the mount itself), and
 * a lone reader's next request finds the receiver awake.
 */
static void serve_worker(struct worker *w)
{
	struct serve *sv = w->sv;

	for (;;) {
		int res;

		pthread_mutex_lock(&sv->lock);
		while (sv->receiving && !w->promoted && !sv->stop) {
			w->next_idle = sv->idle;
			sv->idle = w;
			while (!w->promoted && !sv->stop)
				pthread_cond_wait(&w->cv, &sv->lock);
		}
		if (sv->stop) {
			pthread_mutex_unlock(&sv->lock);
			return;
		}
		w->promoted = false;
		sv->receiving = true;
		pthread_mutex_unlock(&sv->lock);

		res = receive(sv, &w->buf);

		pthread_mutex_lock(&sv->lock);
		sv->receiving = false;
		if (res <= 0) {
			/* the session ended (0) or failed: every worker stops */
			if (res < 0 && !sv->err)
				sv->err = res;
			sv->stop = true;
			for (unsigned i = 0; i < sv->nw; i++)
				pthread_cond_signal(&sv->w[i].cv);
			pthread_mutex_unlock(&sv->lock);
			return;
		}
		if (sv->idle) {
			struct worker *next = sv->idle;

			sv->idle = next->next_idle;
			next->promoted = true;
			sv->receiving = true;
			pthread_cond_signal(&next->cv);
		}
		pthread_mutex_unlock(&sv->lock);
		fuse_session_process_buf(sv->se, &w->buf);
	}
}

static void *worker_main(void *arg)
{
	serve_worker(arg);
	return NULL;
}

int fs_serve(struct fuse_session *se, unsigned threads, unsigned spin_us)
{
	struct serve sv = { .se = se, .fd = fuse_session_fd(se),
			    .spin_ns = (uint64_t)spin_us * 1000u };
	sigset_t all, old;
	unsigned i, started = 1;
	int flags;

	flags = fcntl(sv.fd, F_GETFL);
	if (flags < 0 || fcntl(sv.fd, F_SETFL, flags | O_NONBLOCK) < 0)
		return -errno;
	pthread_mutex_init(&sv.lock, NULL);
	sv.nw = threads ? threads : 1;
	sv.w = calloc(sv.nw, sizeof(*sv.w));
	if (!sv.w) {
		pthread_mutex_destroy(&sv.lock);
		fcntl(sv.fd, F_SETFL, flags);
		return -ENOMEM;
	}
	for (i = 0; i < sv.nw; i++) {
		sv.w[i].sv = &sv;
		pthread_cond_init(&sv.w[i].cv, NULL);
	}
	/* the others block every signal: the exit signals come to this thread */
	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	for (; started < sv.nw; started++)
		if (pthread_create(&sv.w[started].tid, NULL, worker_main, &sv.w[started]))
			break;	/* serve with the threads there are */
	pthread_sigmask(SIG_SETMASK, &old, NULL);

	serve_worker(&sv.w[0]);

	for (i = 1; i < started; i++)
		pthread_join(sv.w[i].tid, NULL);
	for (i = 0; i < sv.nw; i++) {
		pthread_cond_destroy(&sv.w[i].cv);
		free(sv.w[i].buf.mem);
	}
	free(sv.w);
	pthread_mutex_destroy(&sv.lock);
	fcntl(sv.fd, F_SETFL, flags);
	/* a session ended by a signal or an unmount is a clean end */
	return sv.err;
}
