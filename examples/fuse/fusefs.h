/* SPDX-License-Identifier: MIT */
/*
 * erofs-share-fuse: every image of one libsharecache domain served from one
 * FUSE mount (libfuse3's low-level API).
 *
 * Node ids are handed out by a counter and never reused.  A node holds one
 * reference on the image it belongs to and, except for a regular file's
 * node where opens are answered (direct_io, share_nodes: the open file
 * holds one), on the eshare_inode it reads through; it goes away when the
 * kernel forgets its last lookup.
 * One mutex (fs->lock) guards the image list and the node tables; reads of
 * open files use their own inode reference and take no lock, except when a
 * node that stands for several images must change the member it reads
 * through.
 */
#ifndef ESHARE_FUSEFS_H
#define ESHARE_FUSEFS_H

#define FUSE_USE_VERSION 314

#include <fuse_lowlevel.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <erofs_share/erofs_share.h>

/* One image served: a top-level directory, or the whole mount. */
struct fimage {
	char *name;
	char *path;
	eshare_image *img;	/* NULL once removed (detached) */
	eshare_inode *root;
	uint64_t root_ino;	/* the kernel's inode number of its root */
	uint64_t seq;		/* readdir position at the mount's root */
	bool removed;
	unsigned refs;		/* the list's + one per node (under fs->lock) */
	struct fimage *next;
};

struct alias;

/*
 * What a node of share_nodes keeps to be found by a twin and to stand for
 * several images: only a regular file's node there has it (->shared).
 */
struct node_share {
	char fingerprint[72];
	void *xattrs;
	size_t xattrs_len;
	/*
	 * Once the node stands for files of several images, the shared
	 * object all of them read through when they were merged (0 before).
	 * A member that leaves that object (its image no longer gives the
	 * proven bytes) is never read for the node again.
	 */
	_Atomic uint64_t object;
	uint64_t join_object;	/* its first file's object when the node was made */
	/*
	 * Without direct_io: merged into an object it was not in when its
	 * pages may have been read (privately, unchecked): until the kernel
	 * has dropped them, opens ask it to (no keep_cache).
	 */
	atomic_bool recache;
	struct node *share_next;
};

struct node {
	uint64_t id;
	uint64_t nlookup;
	struct fimage *fimg;	/* image of ->ino (referenced) */
	eshare_inode *ino;	/* NULL for the synthetic root */
	struct eshare_stat st;
	char *path;		/* path inside its image, for messages */
	struct alias *aliases;	/* (image, inode number) pairs naming it */
	bool shared;		/* share_nodes: has ->sh, found by its fingerprint */
	bool reported;		/* an error of it was logged */
	unsigned opens;		/* open files of it: it outlives its lookups */
	struct node *id_next;
	/*
	 * Last, and allocated only for a shared node (NODE_PLAIN_SIZE bytes
	 * otherwise): a daemon serving many files spends no memory on it.
	 */
	struct node_share sh;
};

#define NODE_PLAIN_SIZE offsetof(struct node, sh)

struct alias {
	struct fimage *fimg;
	uint64_t kino;
	struct node *node;
	struct alias *hash_next;
	struct alias *node_next;
};

/* Chained hash tables keyed by a 64-bit hash. */
struct htab {
	void **b;
	size_t mask;
	size_t count;
};

enum fop {
	FOP_INIT, FOP_LOOKUP, FOP_FORGET, FOP_GETATTR, FOP_READLINK, FOP_OPEN, FOP_READ,
	FOP_RELEASE, FOP_OPENDIR, FOP_READDIR, FOP_READDIRPLUS, FOP_RELEASEDIR, FOP_STATFS,
	FOP_GETXATTR, FOP_LISTXATTR, FOP_ACCESS, FOP_WRITE_DENIED, FOP_COUNT
};

#define SHARE_STRIPES 64

/* What every open file starts with: fs->handles' links. */
struct fhandle {
	struct fhandle *prev, *next;
};

struct fs {
	eshare_domain *domain;
	uint32_t policy;
	bool root_is_image;	/* one plain image is the mount's root */
	bool share_nodes;
	bool direct_io;
	bool foreground;
	bool debug;
	const char *backend;
	double timeout;
	struct fuse_session *se;

	pthread_mutex_t lock;
	pthread_mutex_t share_stripes[SHARE_STRIPES];	/* see node_get() */
	struct fimage *images;	/* in ->seq order */
	uint64_t next_seq;
	uint64_t next_id;
	struct node *root;
	struct htab by_id;	/* struct node, id_next */
	struct htab by_alias;	/* struct alias, hash_next */
	struct htab by_share;	/* struct node, share_next */
	uint64_t nodes;
	uint64_t freed;		/* nodes freed since malloc last gave memory back */
	int64_t root_mtime;
	/*
	 * Files open now (under lock; with direct_io or share_nodes, the
	 * modes that answer opens): a release the kernel
	 * had not sent when the session ended is done by fs_destroy().
	 */
	struct fhandle *handles;

	atomic_ullong served[FOP_COUNT];
	atomic_ullong failed[FOP_COUNT];

	/* ids of nodes whose kernel pages are to be dropped (fs_recache_*) */
	pthread_mutex_t recache_lock;
	pthread_cond_t recache_cv;
	uint64_t *recache_ids;
	size_t recache_n, recache_cap;
	pthread_t recache_tid;
	bool recache_on, recache_stop;
};

extern const struct fuse_lowlevel_ops fusefs_ops;
extern const char *const fusefs_op_names[FOP_COUNT];

void fs_log(struct fs *fs, int level, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
int fs_init(struct fs *fs);
void fs_destroy(struct fs *fs);
/*
 * share_nodes without direct_io: a thread that has the kernel drop the
 * pages of nodes merged since they were read (fs->se must be mounted).
 * Start returns 0 or -errno (then those nodes just never keep their
 * pages across opens); stop joins it.
 */
int fs_recache_start(struct fs *fs);
void fs_recache_stop(struct fs *fs);

/*
 * Open @path (plus @devices; with @devices_if_needed only if it does not
 * attach without them) into the domain and serve it as image @name.
 * @msg gets a reason on failure.  0 or a negative errno (-EEXIST for a
 * name in use).
 */
int fs_add_image(struct fs *fs, const char *name, const char *path, const char *const *devices,
		 unsigned ndevices, bool devices_if_needed, char *msg, size_t msglen);
/* Hide image @name, invalidate what the kernel cached of it.  0 or -ENOENT. */
int fs_remove_image(struct fs *fs, const char *name);
/* Text or JSON report of the counters into a malloc'ed string. */
char *fs_stats(struct fs *fs, bool json);
char *fs_list(struct fs *fs);

/*
 * Serve @se's requests with @threads threads (the caller's is the one that
 * receives them; 1: it alone), the receiver looking for the next request
 * for @spin_us microseconds before it sleeps (loop.c).  Returns when the
 * session ends: 0 after an unmount or an exit signal, or a negative errno.
 */
int fs_serve(struct fuse_session *se, unsigned threads, unsigned spin_us);

/* Control socket: serve on @path until fs_ctl_stop(). */
int fs_ctl_start(struct fs *fs, const char *path, char *msg, size_t msglen);
void fs_ctl_run(struct fs *fs);
void fs_ctl_stop(void);
int fs_ctl_client(int argc, char **argv);

/* A valid top-level name: not empty, no '/', not "." or "..", <= 255 bytes. */
bool fs_valid_name(const char *name);

#endif
