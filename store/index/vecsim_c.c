/*
 * FLOAT32 distances in RediSearch's (VecSim 0.8's) order of additions, in C.
 *
 * The reference is the numpy code of store/index/vecsim_arith.py; this module computes the
 * same numbers for a query's hits without numpy's per-call overhead (tests/store/index/
 * test_vecsim_c.py holds the two to identical bits). Contract of distances():
 *
 *   distances(blobs, query, dim, metric, kernel) -> list[float]
 *
 *   blobs   a list of bytes, each exactly dim little-endian float32 values (4 * dim bytes)
 *   query   a bytes-like object of the same size
 *   metric  0 L2, 1 IP, 2 COSINE (IP and COSINE report 1 - dot; COSINE over unit vectors
 *           made as VecSim makes them: the sum of squares in double, in order, its square
 *           root rounded to float, each element divided by it; a zero vector stays zero)
 *   kernel  0 one accumulator in order (dim < 16), 1 VecSim's AVX kernel (8 lanes, multiply
 *           then add), 2 its AVX-512 kernel (16 lanes, fused multiply-add, tree reduction)
 *
 * Every product and sum is rounded to float32 where VecSim's is: the file is compiled with
 * -ffp-contract=off so the compiler fuses nothing itself, and the fused steps call fmaf().
 * It refuses to build where float arithmetic is not plain IEEE single precision or the
 * machine is big-endian (the blobs are little-endian), and the Python path is used instead.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <float.h>
#include <math.h>
#include <stdint.h>
#include <string.h>

#if !defined(FLT_EVAL_METHOD) || FLT_EVAL_METHOD != 0
#error "float expressions must be evaluated in float (FLT_EVAL_METHOD 0)"
#endif
#if PY_BIG_ENDIAN
#error "the blobs are little-endian float32"
#endif

#pragma STDC FP_CONTRACT OFF

enum { METRIC_L2 = 0, METRIC_IP = 1, METRIC_COSINE = 2 };
enum { KERNEL_IN_ORDER = 0, KERNEL_AVX = 1, KERNEL_AVX512 = 2 };

/* The term i of a kernel's sum: left[i] * right[i], or (left[i] - right[i])^2 for L2, the
   difference rounded to float first as VecSim's kernels subtract in float. */
#define TERM_OPERANDS(i)                   \
    float a = left[i], b = right[i];       \
    if (l2) {                              \
        a = a - b;                         \
        b = a;                             \
    }

/* left . right (or |left - right|^2 when l2) with VecSim's one-accumulator kernel. */
static float in_order(const float *left, const float *right, Py_ssize_t dim, int l2) {
    float total = 0.0f;
    for (Py_ssize_t i = 0; i < dim; i++) {
        TERM_OPERANDS(i)
        float term = a * b;
        total = total + term;
    }
    return total;
}

/* VecSim's AVX kernel: dim % 8 leading products into lanes 0..r-1, then each block of 8
   multiplied (rounded) and added (rounded) into the lanes, the lanes added left to right. */
static float avx(const float *left, const float *right, Py_ssize_t dim, int l2) {
    float lanes[8] = {0};
    Py_ssize_t r = dim % 8;
    for (Py_ssize_t i = 0; i < r; i++) {
        TERM_OPERANDS(i)
        lanes[i] = a * b;
    }
    for (Py_ssize_t start = r; start < dim; start += 8) {
        for (int j = 0; j < 8; j++) {
            TERM_OPERANDS(start + j)
            float term = a * b;
            lanes[j] = lanes[j] + term;
        }
    }
    float total = lanes[0];
    for (int i = 1; i < 8; i++) {
        total = total + lanes[i];
    }
    return total;
}

/* VecSim's AVX-512 kernel: dim % 16 leading products into lanes 0..r-1, then each block of
   16 fused-multiply-added into the lanes, reduced as _mm512_reduce_add_ps does. FUSED is
   fmaf (libm, exact everywhere) or the FMA instruction, which computes the same. */
#define AVX512_KERNEL(name, FUSED, attributes)                                              \
    attributes static float name(const float *left, const float *right, Py_ssize_t dim,    \
                                 int l2) {                                                  \
        float lanes[16] = {0};                                                              \
        Py_ssize_t r = dim % 16;                                                            \
        for (Py_ssize_t i = 0; i < r; i++) {                                                \
            TERM_OPERANDS(i)                                                                \
            lanes[i] = a * b;                                                               \
        }                                                                                   \
        for (Py_ssize_t start = r; start < dim; start += 16) {                              \
            for (int j = 0; j < 16; j++) {                                                  \
                TERM_OPERANDS(start + j)                                                    \
                lanes[j] = FUSED(a, b, lanes[j]);                                           \
            }                                                                               \
        }                                                                                   \
        float eight[8], four[4];                                                            \
        for (int i = 0; i < 8; i++) {                                                       \
            eight[i] = lanes[8 + i] + lanes[i];                                             \
        }                                                                                   \
        for (int i = 0; i < 4; i++) {                                                       \
            four[i] = eight[4 + i] + eight[i];                                              \
        }                                                                                   \
        return (four[0] + four[2]) + (four[1] + four[3]);                                   \
    }

AVX512_KERNEL(avx512, fmaf, )
#if defined(__GNUC__) && (defined(__x86_64__) || defined(__i386__))
#define HAVE_FMA_VARIANT 1
AVX512_KERNEL(avx512_fma, __builtin_fmaf, __attribute__((target("fma"))))
#endif

/* VecSim's normalizeVector_imp: the norm is the square root of the sum of squares, added
   in double in order, rounded to float. GROUP rows at a time: each sum is still one chain in
   order, but the chains of several rows overlap in the CPU instead of waiting on each
   other's additions. */
#define GROUP 4
static void norms(const float *const *rows, int count, Py_ssize_t dim, float *out) {
    double sums[GROUP] = {0};
    for (Py_ssize_t i = 0; i < dim; i++) {
        for (int k = 0; k < count; k++) {
            double v = (double)rows[k][i];
            sums[k] += v * v;
        }
    }
    for (int k = 0; k < count; k++) {
        out[k] = (float)sqrt(sums[k]);
    }
}

/* vec / norm elementwise into out, as VecSim divides; a zero vector stays zero. */
static void unit(const float *vec, float norm, float *out, Py_ssize_t dim) {
    if (norm == 0.0f) {
        memset(out, 0, sizeof(float) * (size_t)dim);
        return;
    }
    for (Py_ssize_t i = 0; i < dim; i++) {
        out[i] = vec[i] / norm;
    }
}

typedef float (*kernel_fn)(const float *, const float *, Py_ssize_t, int);

/* The kernel VecSim runs for the code kernel on this CPU. */
static kernel_fn kernel_step(int kernel) {
#ifdef HAVE_FMA_VARIANT
    if (kernel == KERNEL_AVX512 && __builtin_cpu_supports("fma")) {
        return avx512_fma;
    }
#endif
    return kernel == KERNEL_AVX512 ? avx512 : kernel == KERNEL_AVX ? avx : in_order;
}

/* Checks shared by distances() and nearest(): the query's size, the metric and kernel codes,
   and every blob being bytes of the query's size. 0, or -1 with the exception set. */
static int check_arguments(PyObject *blobs, const Py_buffer *query, Py_ssize_t dim, int metric,
                           int kernel) {
    if (dim < 1 || dim > PY_SSIZE_T_MAX / (Py_ssize_t)(sizeof(float) * (GROUP + 3)) ||
        query->len != dim * (Py_ssize_t)sizeof(float)) {
        PyErr_Format(PyExc_ValueError, "the query holds %zd bytes, not %zd float32 values",
                     query->len, dim);
        return -1;
    }
    if (metric < METRIC_L2 || metric > METRIC_COSINE || kernel < KERNEL_IN_ORDER ||
        kernel > KERNEL_AVX512) {
        PyErr_Format(PyExc_ValueError, "unknown metric %d or kernel %d", metric, kernel);
        return -1;
    }
    Py_ssize_t n = PyList_GET_SIZE(blobs);
    for (Py_ssize_t i = 0; i < n; i++) {
        PyObject *blob = PyList_GET_ITEM(blobs, i);
        if (!PyBytes_Check(blob) || PyBytes_GET_SIZE(blob) != query->len) {
            PyErr_Format(PyExc_ValueError, "blob %zd is not %zd bytes of float32 values", i,
                         query->len);
            return -1;
        }
    }
    return 0;
}

/* The query as the kernels read it: copied into q, made a unit vector for COSINE. */
static void prepare_query(const Py_buffer *query, Py_ssize_t dim, int metric, float *q) {
    memcpy(q, query->buf, (size_t)query->len);
    if (metric == METRIC_COSINE) {
        const float *one[1] = {q};
        float norm;
        norms(one, 1, dim, &norm);
        unit(q, norm, q, dim);
    }
}

/* VecSim's distance from the prepared query q to rows which[0..count) of blobs (rows
   0..count-1 when which is NULL), into out[0..count). scratch holds (GROUP + 1) * dim
   floats: the blobs' bytes may sit at any address, so rows are copied into aligned floats,
   GROUP at a time (their norms computed together), then the unit row for COSINE. */
static void exact_rows(PyObject *blobs, const Py_ssize_t *which, Py_ssize_t count,
                       const float *q, Py_ssize_t dim, int metric, kernel_fn step,
                       float *scratch, float *out) {
    int cosine = metric == METRIC_COSINE, l2 = metric == METRIC_L2;
    float *unit_row = scratch, *group = scratch + dim;
    size_t row_bytes = sizeof(float) * (size_t)dim;
    for (Py_ssize_t first = 0; first < count; first += GROUP) {
        int size = count - first < GROUP ? (int)(count - first) : GROUP;
        const float *rows[GROUP];
        float row_norms[GROUP];
        for (int k = 0; k < size; k++) {
            Py_ssize_t at = which == NULL ? first + k : which[first + k];
            float *row = group + (size_t)k * (size_t)dim;
            memcpy(row, PyBytes_AS_STRING(PyList_GET_ITEM(blobs, at)), row_bytes);
            rows[k] = row;
        }
        if (cosine) {
            norms(rows, size, dim, row_norms);
        }
        for (int k = 0; k < size; k++) {
            const float *row = rows[k];
            if (cosine) {
                unit(row, row_norms[k], unit_row, dim);
                row = unit_row;
            }
            float total = step(row, q, dim, l2);
            out[first + k] = l2 ? total : 1.0f - total;
        }
    }
}

static PyObject *float_list(const float *values, Py_ssize_t n) {
    PyObject *result = PyList_New(n);
    if (result == NULL) {
        return NULL;
    }
    for (Py_ssize_t i = 0; i < n; i++) {
        PyObject *value = PyFloat_FromDouble((double)values[i]);
        if (value == NULL) {
            Py_DECREF(result);
            return NULL;
        }
        PyList_SET_ITEM(result, i, value);
    }
    return result;
}

static PyObject *distances(PyObject *self, PyObject *args) {
    PyObject *blobs;
    Py_buffer query;
    Py_ssize_t dim;
    int metric, kernel;
    (void)self;
    if (!PyArg_ParseTuple(args, "O!y*nii", &PyList_Type, &blobs, &query, &dim, &metric, &kernel)) {
        return NULL;
    }
    PyObject *result = NULL;
    float *scratch = NULL, *out = NULL;
    if (check_arguments(blobs, &query, dim, metric, kernel) < 0) {
        goto done;
    }
    Py_ssize_t n = PyList_GET_SIZE(blobs);
    scratch = PyMem_Malloc(sizeof(float) * (size_t)dim * (GROUP + 2));
    out = PyMem_Malloc(sizeof(float) * (size_t)(n > 0 ? n : 1));
    if (scratch == NULL || out == NULL) {
        PyErr_NoMemory();
        goto done;
    }
    float *q = scratch;
    prepare_query(&query, dim, metric, q);
    exact_rows(blobs, NULL, n, q, dim, metric, kernel_step(kernel), scratch + dim, out);
    result = float_list(out, n);
done:
    PyMem_Free(out);
    PyMem_Free(scratch);
    PyBuffer_Release(&query);
    return result;
}

/* The screen of nearest(): for one row, a distance computed with float sums in 16 lanes
   (vectorised by -O3, no normalisation pass, no division per element) and an upper bound
   on how far it can lie from VecSim's. Both come back in double; the bound is infinite
   where the fast sums cannot be trusted (a sum above LARGE, which VecSim's float sums may
   overflow; a norm small enough to have lost terms to underflow; a NaN), and such a row is
   always computed exactly.

   The bound: each side is a sum of dim rounded terms in at most dim + 8 rounding steps
   (VecSim's kernels; the 16 lanes here take dim / 16 + 4), with unit roundoff u = 2^-24, so each is
   within (dim + 16) u of the true value times S, the sum of the terms' magnitudes (the
   normalisation of COSINE adds a few u more). S is 1 for COSINE (unit vectors:
   Cauchy-Schwarz), the distance itself for L2 (every term is positive) and the sum of
   |row_i q_i| for IP. The bound taken is 8 (dim + 16) u S: twice the sum of the two
   sides', plus an absolute 1e-30 for terms lost to underflow, plus for IP the rounding of
   VecSim's final 1 - dot to float (COSINE's scale already covers it). */
typedef float v4 __attribute__((vector_size(16)));
typedef unsigned int u4 __attribute__((vector_size(16)));

/* Four floats from any address (a blob's bytes need not be aligned). */
static inline v4 load4(const void *p) {
    v4 v;
    memcpy(&v, p, sizeof v);
    return v;
}

static inline float lane_sum(v4 v) { return (v[0] + v[1]) + (v[2] + v[3]); }

/* 16 lanes as four vectors of four (GCC's vector extensions: SSE, NEON or plain code,
   whichever the target has; arrays of 16 floats did not vectorise), one loop per metric */
#define SCREEN_LOOP(STEP)                                                                   \
    for (Py_ssize_t start = 0; start < blocks; start += 16) {                               \
        STEP(0, start) STEP(1, start + 4) STEP(2, start + 8) STEP(3, start + 12)            \
    }
#define L2_STEP(i, at)                                                                      \
    {                                                                                       \
        v4 d = load4(row + 4 * (at)) - load4(q + (at));                                         \
        dot[i] += d * d;                                                                    \
    }
#define COSINE_STEP(i, at)                                                                  \
    {                                                                                       \
        v4 a = load4(row + 4 * (at));                                                           \
        dot[i] += a * load4(q + (at));                                                      \
        other[i] += a * a;                                                                  \
    }
#define IP_STEP(i, at)                                                                      \
    {                                                                                       \
        v4 p = load4(row + 4 * (at)) * load4(q + (at));                                         \
        dot[i] += p;                                                                        \
        other[i] += (v4)((u4)p & 0x7fffffffu);                                              \
    }

#define LARGE 1e30
static double screen_row(const char *row, const float *q, double q_norm, Py_ssize_t dim,
                         int metric, double *bound) {
    v4 dot[4] = {{0}}, other[4] = {{0}};
    Py_ssize_t blocks = dim - dim % 16;
    if (metric == METRIC_L2) {
        SCREEN_LOOP(L2_STEP)
    } else if (metric == METRIC_COSINE) {
        SCREEN_LOOP(COSINE_STEP)
    } else {
        SCREEN_LOOP(IP_STEP)
    }
    double total = 0.0, extra = 0.0;
    for (Py_ssize_t i = blocks; i < dim; i++) {
        float element;
        memcpy(&element, row + 4 * i, sizeof element);
        double a = element, b = q[i];
        if (metric == METRIC_L2) {
            total += (a - b) * (a - b);
        } else {
            total += a * b;
            extra += metric == METRIC_COSINE ? a * a : fabs(a * b);
        }
    }
    total += lane_sum((dot[0] + dot[1]) + (dot[2] + dot[3]));
    extra += lane_sum((other[0] + other[1]) + (other[2] + other[3]));
    double u = 1.0 / 16777216.0, scale = 8.0 * ((double)dim + 16.0) * u, distance;
    if (metric == METRIC_L2) {
        distance = total;
        *bound = scale * total + 1e-30;
    } else if (metric == METRIC_IP) {
        distance = 1.0 - total;
        /* VecSim rounds 1 - dot to float: up to u of its magnitude more */
        *bound = scale * extra + 4.0 * u * (1.0 + fabs(total)) + 1e-30;
    } else {
        double norm = sqrt(extra) * q_norm;
        distance = 1.0 - total / norm;
        /* a norm this small may have lost terms to underflow: computed exactly instead */
        *bound = extra > 1e-30 ? scale + 1e-30 : INFINITY;
    }
    /* sums this large may overflow float in VecSim's order (or its norm, for COSINE) where
       they did not here; non-finite ones already did */
    if (!isfinite(distance) || !isfinite(*bound) || !(fabs(total) <= LARGE) ||
        !(extra <= LARGE)) {
        *bound = INFINITY;
    }
    return distance;
}

/* A filtered subset's blobs lie wherever the allocator put them, each its own stream of
   cache lines, mostly out of cache when the query arrives: the screen asks for the row
   PREFETCH_AHEAD rows ahead, line by line, while it sums the current one. */
#define PREFETCH_AHEAD 4
static inline void prefetch_row(const char *row, Py_ssize_t size) {
    for (Py_ssize_t at = 0; at < size; at += 64) {
        __builtin_prefetch(row + at, 0, 2);
    }
}

/* The k-th smallest (1-based) of values[0..n), n >= k >= 1; reorders values. */
static double kth_smallest(double *values, Py_ssize_t n, Py_ssize_t k) {
    Py_ssize_t lo = 0, hi = n - 1, want = k - 1;
    while (lo < hi) {
        double pivot = values[lo + (hi - lo) / 2];
        Py_ssize_t i = lo, j = hi;
        while (i <= j) {
            while (values[i] < pivot) {
                i++;
            }
            while (values[j] > pivot) {
                j--;
            }
            if (i <= j) {
                double t = values[i];
                values[i] = values[j];
                values[j] = t;
                i++;
                j--;
            }
        }
        if (want <= j) {
            hi = j;
        } else if (want >= i) {
            lo = i;
        } else {
            return values[want];
        }
    }
    return values[want];
}

/* nearest(blobs, query, dim, metric, kernel, k) -> (positions, distances): VecSim's
   distances (as distances() computes them) for a subset of the blobs that holds every
   blob among the k nearest, ties at the k-th included, positions ascending. Each row is
   screened first (screen_row): with U and L its distance plus and minus its bound and T
   the k-th smallest U, a row is kept when L <= T or its bound is infinite. A row left out
   has a distance above T, which k kept rows do not exceed. Only kept rows are computed
   exactly, so a filtered subset of 2,000 blobs costs little more than the screen. */
static PyObject *nearest(PyObject *self, PyObject *args) {
    PyObject *blobs;
    Py_buffer query;
    Py_ssize_t dim, k;
    int metric, kernel;
    (void)self;
    if (!PyArg_ParseTuple(args, "O!y*niin", &PyList_Type, &blobs, &query, &dim, &metric, &kernel,
                          &k)) {
        return NULL;
    }
    PyObject *result = NULL, *positions = NULL, *values = NULL;
    float *scratch = NULL, *out = NULL;
    double *screened = NULL;
    Py_ssize_t *kept = NULL;
    if (check_arguments(blobs, &query, dim, metric, kernel) < 0) {
        goto done;
    }
    if (k < 0) {
        PyErr_SetString(PyExc_ValueError, "k must not be negative");
        goto done;
    }
    Py_ssize_t n = PyList_GET_SIZE(blobs), cap = n > 0 ? n : 1;
    scratch = PyMem_Malloc(sizeof(float) * (size_t)dim * (GROUP + 3));
    out = PyMem_Malloc(sizeof(float) * (size_t)cap);
    screened = PyMem_Malloc(sizeof(double) * 3 * (size_t)cap);
    kept = PyMem_Malloc(sizeof(Py_ssize_t) * (size_t)cap);
    if (scratch == NULL || out == NULL || screened == NULL || kept == NULL) {
        PyErr_NoMemory();
        goto done;
    }
    float *q = scratch, *raw_q = scratch + dim;
    prepare_query(&query, dim, metric, q);
    memcpy(raw_q, query.buf, (size_t)query.len);
    double q_sum = 0.0;
    for (Py_ssize_t i = 0; i < dim; i++) {
        q_sum += (double)raw_q[i] * (double)raw_q[i];
    }
    double q_norm = sqrt(q_sum);
    /* without a usable query norm or with k covering every row, nothing is screened */
    int screen = k > 0 && k < n && q_sum <= LARGE && (metric != METRIC_COSINE || q_sum > 1e-30);
    Py_ssize_t count = 0;
    if (screen) {
        double *distance = screened, *bound = screened + n, *upper = screened + 2 * n;
        Py_ssize_t finite = 0;
        for (Py_ssize_t i = 0; i < n; i++) {
            if (i + PREFETCH_AHEAD < n) {
                prefetch_row(PyBytes_AS_STRING(PyList_GET_ITEM(blobs, i + PREFETCH_AHEAD)),
                             4 * dim);
            }
            const char *row = PyBytes_AS_STRING(PyList_GET_ITEM(blobs, i));
            distance[i] = screen_row(row, raw_q, q_norm, dim, metric, &bound[i]);
            if (isfinite(bound[i])) {
                upper[finite++] = distance[i] + bound[i];
            }
        }
        if (finite < k) {
            screen = 0;
        } else {
            double t = kth_smallest(upper, finite, k);
            for (Py_ssize_t i = 0; i < n; i++) {
                if (!isfinite(bound[i]) || distance[i] - bound[i] <= t) {
                    kept[count++] = i;
                }
            }
        }
    }
    if (!screen) {
        count = k == 0 ? 0 : n;
        for (Py_ssize_t i = 0; i < count; i++) {
            kept[i] = i;
        }
    }
    exact_rows(blobs, kept, count, q, dim, metric, kernel_step(kernel), scratch + 2 * dim, out);
    positions = PyList_New(count);
    if (positions == NULL) {
        goto done;
    }
    for (Py_ssize_t i = 0; i < count; i++) {
        PyObject *at = PyLong_FromSsize_t(kept[i]);
        if (at == NULL) {
            goto done;
        }
        PyList_SET_ITEM(positions, i, at);
    }
    values = float_list(out, count);
    if (values != NULL) {
        result = PyTuple_Pack(2, positions, values);
    }
done:
    Py_XDECREF(positions);
    Py_XDECREF(values);
    PyMem_Free(kept);
    PyMem_Free(screened);
    PyMem_Free(out);
    PyMem_Free(scratch);
    PyBuffer_Release(&query);
    return result;
}


/*
 * all_finite(values) -> bool: whether every float32 of the buffer ``values`` (native byte
 * order, its length a multiple of 4) is finite. The twin of numpy's
 * ``np.isfinite(v).all()`` for the query vectors and blobs every search and write checks,
 * without numpy's ~2 us of per-call overhead (store/index/vector.py:all_finite).
 */
static PyObject *all_finite(PyObject *self, PyObject *arg) {
    Py_buffer view;
    if (PyObject_GetBuffer(arg, &view, PyBUF_SIMPLE) < 0) {
        return NULL;
    }
    if (view.len % (Py_ssize_t)sizeof(float) != 0) {
        PyBuffer_Release(&view);
        PyErr_Format(PyExc_ValueError,
                     "all_finite needs whole float32 values: %zd bytes is not a multiple of 4",
                     view.len);
        return NULL;
    }
    const unsigned char *bytes = (const unsigned char *)view.buf;
    Py_ssize_t n = view.len / (Py_ssize_t)sizeof(float);
    int finite = 1;
    for (Py_ssize_t i = 0; i < n; i++) {
        uint32_t bits;
        memcpy(&bits, bytes + i * (Py_ssize_t)sizeof(float), sizeof bits);
        if ((bits & 0x7f800000u) == 0x7f800000u) { /* exponent all ones: inf or NaN */
            finite = 0;
            break;
        }
    }
    PyBuffer_Release(&view);
    return PyBool_FromLong(finite);
}

/*
 * sorted_hits(pairs, metric, dim) -> (ordered, certain) | None
 *
 * The C twin of store/index/vecsim_arith.py:sorted_hits (the reference): ``pairs`` is a
 * list of (label int, distance float) tuples as an index's search returns them; ``ordered``
 * is a new list of the same tuple objects sorted by (distance, label) and ``certain`` is
 * order_is_certain() of the sorted distances (IP never; COSINE a fixed gap; L2 a gap
 * scaled by the larger distance). None when the Python twin must decide instead: a pair
 * that is not an (int, float) tuple, a label beyond 64 bits, or a NaN distance (Python's
 * sort of NaN keys depends on the input order, which a C sort would not reproduce).
 */
typedef struct {
    double distance;
    unsigned long long label;
    PyObject *pair;
} hit_t;

static int hit_compare(const void *a, const void *b) {
    const hit_t *x = (const hit_t *)a, *y = (const hit_t *)b;
    if (x->distance < y->distance) return -1;
    if (x->distance > y->distance) return 1;
    return (x->label > y->label) - (x->label < y->label);
}

static PyObject *sorted_hits(PyObject *self, PyObject *args) {
    PyObject *pairs;
    int metric, dim;
    if (!PyArg_ParseTuple(args, "O!ii", &PyList_Type, &pairs, &metric, &dim)) {
        return NULL;
    }
    if (metric < METRIC_L2 || metric > METRIC_COSINE || dim < 1) {
        PyErr_Format(PyExc_ValueError, "unknown metric %d or dim %d < 1", metric, dim);
        return NULL;
    }
    Py_ssize_t n = PyList_GET_SIZE(pairs);
    hit_t stack_hits[64];
    hit_t *hits = n <= 64 ? stack_hits : PyMem_Malloc(sizeof(hit_t) * (size_t)n);
    if (hits == NULL) {
        return PyErr_NoMemory();
    }
    for (Py_ssize_t i = 0; i < n; i++) {
        PyObject *pair = PyList_GET_ITEM(pairs, i);
        if (!PyTuple_CheckExact(pair) || PyTuple_GET_SIZE(pair) != 2
            || !PyLong_CheckExact(PyTuple_GET_ITEM(pair, 0))
            || !PyFloat_CheckExact(PyTuple_GET_ITEM(pair, 1))) {
            goto python_decides;
        }
        unsigned long long label = PyLong_AsUnsignedLongLong(PyTuple_GET_ITEM(pair, 0));
        if (label == (unsigned long long)-1 && PyErr_Occurred()) {
            PyErr_Clear(); /* negative or beyond 64 bits */
            goto python_decides;
        }
        double distance = PyFloat_AS_DOUBLE(PyTuple_GET_ITEM(pair, 1));
        if (isnan(distance)) {
            goto python_decides;
        }
        hits[i].distance = distance;
        hits[i].label = label;
        hits[i].pair = pair;
    }
    qsort(hits, (size_t)n, sizeof(hit_t), hit_compare);
    int certain = metric != METRIC_IP;
    /* order_is_certain: 4 * (dim + 4) units of float32 roundoff (2**-24) */
    double bound = 4.0 * ((double)dim + 4.0) * ldexp(1.0, -24);
    for (Py_ssize_t i = 1; certain && i < n; i++) {
        double a = hits[i - 1].distance, b = hits[i].distance;
        double scale = metric == METRIC_COSINE ? 1.0 : fmax(fabs(a), fabs(b));
        if (!(b - a > bound * scale)) {
            certain = 0;
        }
    }
    PyObject *ordered = PyList_New(n);
    if (ordered == NULL) {
        goto fail;
    }
    for (Py_ssize_t i = 0; i < n; i++) {
        Py_INCREF(hits[i].pair);
        PyList_SET_ITEM(ordered, i, hits[i].pair);
    }
    if (hits != stack_hits) {
        PyMem_Free(hits);
    }
    PyObject *result = Py_BuildValue("(NO)", ordered, certain ? Py_True : Py_False);
    return result;
python_decides:
    if (hits != stack_hits) {
        PyMem_Free(hits);
    }
    Py_RETURN_NONE;
fail:
    if (hits != stack_hits) {
        PyMem_Free(hits);
    }
    return NULL;
}

static PyMethodDef methods[] = {
    {"distances", distances, METH_VARARGS,
     "distances(blobs, query, dim, metric, kernel) -> list[float]: VecSim's FLOAT32 "
     "distances from query to each blob (see store/index/vecsim_arith.py)."},
    {"nearest", nearest, METH_VARARGS,
     "nearest(blobs, query, dim, metric, kernel, k) -> (positions, distances): VecSim's "
     "distances of a subset of the blobs that holds the k nearest (see vecsim_c.c)."},
    {"sorted_hits", sorted_hits, METH_VARARGS,
     "sorted_hits(pairs, metric, dim) -> (ordered, certain) | None: (label, distance) "
     "pairs sorted by distance then label, and whether VecSim's arithmetic could reorder "
     "them (see store/index/vecsim_arith.py:sorted_hits)."},
    {"all_finite", all_finite, METH_O,
     "all_finite(values) -> bool: whether every float32 of the buffer is finite."},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {
    PyModuleDef_HEAD_INIT, "vecsim_c",
    "FLOAT32 distances in VecSim's order of additions (the C twin of vecsim_arith's numpy).",
    -1, methods,
};

PyMODINIT_FUNC PyInit_vecsim_c(void) { return PyModule_Create(&module); }
