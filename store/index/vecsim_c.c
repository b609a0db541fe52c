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
    float *scratch = NULL;
    if (dim < 1 || dim > PY_SSIZE_T_MAX / (Py_ssize_t)(sizeof(float) * (GROUP + 2)) ||
        query.len != dim * (Py_ssize_t)sizeof(float)) {
        PyErr_Format(PyExc_ValueError, "the query holds %zd bytes, not %zd float32 values",
                     query.len, dim);
        goto done;
    }
    if (metric < METRIC_L2 || metric > METRIC_COSINE || kernel < KERNEL_IN_ORDER ||
        kernel > KERNEL_AVX512) {
        PyErr_Format(PyExc_ValueError, "unknown metric %d or kernel %d", metric, kernel);
        goto done;
    }
    Py_ssize_t n = PyList_GET_SIZE(blobs);
    for (Py_ssize_t i = 0; i < n; i++) {
        PyObject *blob = PyList_GET_ITEM(blobs, i);
        if (!PyBytes_Check(blob) || PyBytes_GET_SIZE(blob) != query.len) {
            PyErr_Format(PyExc_ValueError, "blob %zd is not %zd bytes of float32 values", i,
                         query.len);
            goto done;
        }
    }
    int cosine = metric == METRIC_COSINE, l2 = metric == METRIC_L2;
    /* the blobs' bytes may sit at any address: rows are copied into aligned floats, GROUP
       at a time (their norms computed together), then the unit row for COSINE */
    scratch = PyMem_Malloc(sizeof(float) * (size_t)dim * (GROUP + 2));
    if (scratch == NULL) {
        PyErr_NoMemory();
        goto done;
    }
    float *q = scratch, *unit_row = scratch + dim, *group = scratch + 2 * dim;
    memcpy(q, query.buf, (size_t)query.len);
    if (cosine) {
        const float *one[1] = {q};
        float norm;
        norms(one, 1, dim, &norm);
        unit(q, norm, q, dim);
    }
    result = PyList_New(n);
    if (result == NULL) {
        goto done;
    }
    float (*step)(const float *, const float *, Py_ssize_t, int) =
        kernel == KERNEL_AVX512 ? avx512 : kernel == KERNEL_AVX ? avx : in_order;
#ifdef HAVE_FMA_VARIANT
    if (kernel == KERNEL_AVX512 && __builtin_cpu_supports("fma")) {
        step = avx512_fma;
    }
#endif
    for (Py_ssize_t first = 0; first < n; first += GROUP) {
        int count = n - first < GROUP ? (int)(n - first) : GROUP;
        const float *rows[GROUP];
        float row_norms[GROUP];
        for (int k = 0; k < count; k++) {
            float *row = group + (size_t)k * (size_t)dim;
            memcpy(row, PyBytes_AS_STRING(PyList_GET_ITEM(blobs, first + k)), (size_t)query.len);
            rows[k] = row;
        }
        if (cosine) {
            norms(rows, count, dim, row_norms);
        }
        for (int k = 0; k < count; k++) {
            const float *row = rows[k];
            if (cosine) {
                unit(row, row_norms[k], unit_row, dim);
                row = unit_row;
            }
            float total = step(row, q, dim, l2);
            float d = l2 ? total : 1.0f - total;
            PyObject *value = PyFloat_FromDouble((double)d);
            if (value == NULL) {
                Py_CLEAR(result);
                goto done;
            }
            PyList_SET_ITEM(result, first + k, value);
        }
    }
done:
    PyMem_Free(scratch);
    PyBuffer_Release(&query);
    return result;
}

static PyMethodDef methods[] = {
    {"distances", distances, METH_VARARGS,
     "distances(blobs, query, dim, metric, kernel) -> list[float]: VecSim's FLOAT32 "
     "distances from query to each blob (see store/index/vecsim_arith.py)."},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {
    PyModuleDef_HEAD_INIT, "vecsim_c",
    "FLOAT32 distances in VecSim's order of additions (the C twin of vecsim_arith's numpy).",
    -1, methods,
};

PyMODINIT_FUNC PyInit_vecsim_c(void) { return PyModule_Create(&module); }
