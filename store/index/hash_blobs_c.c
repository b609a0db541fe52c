/*
 * The vector blobs of many indexed hashes, read in one C loop.
 *
 * The reference is python_hash_blobs() in store/index/hash_blobs.py; this module returns the
 * same lists without a Python-level call per label (tests/store/index/test_hash_blobs_c.py
 * holds the two to identical results). Contract of hash_blobs():
 *
 *   hash_blobs(labels, label_to_key, data, field, size[, indexed, at])
 *       -> (list[int], list[bytes])
 *
 *   labels        any iterable of labels, read once in its own order
 *   label_to_key  a dict: label -> key
 *   data          a dict: key -> stored value
 *   field         the hash field holding the vector
 *   size          the blob length in bytes the field's vectors have
 *   indexed       optional, a dict: label -> tuple of the values the index last read from
 *                 the label's hash (SearchIndex._indexed)
 *   at            the position of ``field`` in those tuples (negative: none)
 *
 * For each label: the blob at ``indexed[label][at]`` when that is bytes of exactly
 * ``size`` bytes (one lookup and a tuple item, where the hash takes three lookups and
 * each of their cache misses: a filtered subset of 2,000 labels whose documents are out
 * of cache, ~0.5 ms against ~1.1); else its key (a label without one is skipped), the
 * key's value (skipped unless it is a dict: a hash), the value's ``field`` (kept only if
 * it is bytes of exactly ``size`` bytes). The kept labels and their blobs are returned,
 * in the order of ``labels``. Lookups are dict lookups: keys hash and compare as Python's
 * dict.get does, and an error raised there (an unhashable label) propagates. The caller
 * holds the lock under which ``data`` changes; the GIL is held throughout.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>

/* Labels are read STAGE at a time, and each step of the chain (label -> key -> value ->
   blob) runs for the whole stage before the next: the lookups of a stage do not depend on
   each other, so the CPU overlaps their cache misses. On 2,000 labels of a 20k-key
   keyspace this halved the time of a label-by-label loop (~250 -> ~140 us). */
#define STAGE 16

/* Where a gather reads: the arguments of hash_blobs(). */
struct source {
    PyObject *label_to_key, *data, *field, *indexed; /* indexed: NULL when not given */
    Py_ssize_t size, at;
};

/* Release the first count references of refs (NULLs skipped). */
static void release(PyObject **refs, int count) {
    for (int i = 0; i < count; i++) {
        Py_CLEAR(refs[i]);
    }
}

/* One stage: the blobs of labels[0..count) appended to found and blobs. Every reference a
   stage holds is strong (a lookup may run a key's __eq__). 0, or -1 with the exception
   set; labels are released either way. */
static int gather_stage(PyObject **labels, int count, const struct source *from,
                        PyObject *found, PyObject *blobs) {
    PyObject *held[STAGE] = {NULL};
    char kept[STAGE] = {0}; /* held[i] is already the blob, from the index's values */
    Py_ssize_t size = from->size;
    int failed = 0;
    for (int i = 0; i < count && !failed && from->indexed != NULL; i++) { /* label -> blob */
        PyObject *values = PyDict_GetItemWithError(from->indexed, labels[i]);
        failed = values == NULL && PyErr_Occurred();
        if (values != NULL && PyTuple_Check(values) && from->at < PyTuple_GET_SIZE(values)) {
            PyObject *blob = PyTuple_GET_ITEM(values, from->at);
            if (PyBytes_Check(blob) && PyBytes_GET_SIZE(blob) == size) {
                Py_INCREF(blob);
                held[i] = blob;
                kept[i] = 1;
            }
        }
    }
    for (int i = 0; i < count && !failed; i++) { /* label -> key */
        if (kept[i]) {
            continue;
        }
        held[i] = PyDict_GetItemWithError(from->label_to_key, labels[i]);
        Py_XINCREF(held[i]);
        failed = held[i] == NULL && PyErr_Occurred();
    }
    for (int i = 0; i < count && !failed; i++) { /* key -> value */
        PyObject *key = held[i];
        if (key != NULL && !kept[i]) {
            held[i] = PyDict_GetItemWithError(from->data, key);
            Py_XINCREF(held[i]);
            Py_DECREF(key);
            failed = held[i] == NULL && PyErr_Occurred();
        }
    }
    for (int i = 0; i < count && !failed; i++) { /* value -> blob, hashes only */
        if (kept[i]) {
            continue;
        }
        PyObject *value = held[i];
        held[i] = NULL;
        if (value != NULL && PyDict_Check(value)) {
            held[i] = PyDict_GetItemWithError(value, from->field);
            Py_XINCREF(held[i]);
            failed = held[i] == NULL && PyErr_Occurred();
        }
        Py_XDECREF(value);
    }
    for (int i = 0; i < count && !failed; i++) { /* kept if bytes of the size */
        PyObject *blob = held[i];
        if (blob != NULL && PyBytes_Check(blob) && PyBytes_GET_SIZE(blob) == size) {
            failed = PyList_Append(found, labels[i]) < 0 || PyList_Append(blobs, blob) < 0;
        }
    }
    release(held, count);
    release(labels, count);
    return failed ? -1 : 0;
}

static PyObject *hash_blobs(PyObject *self, PyObject *args) {
    PyObject *labels, *indexed = Py_None;
    struct source from = {.at = -1};
    (void)self;
    if (!PyArg_ParseTuple(args, "OO!O!On|On", &labels, &PyDict_Type, &from.label_to_key,
                          &PyDict_Type, &from.data, &from.field, &from.size, &indexed,
                          &from.at)) {
        return NULL;
    }
    if (indexed != Py_None && !PyDict_Check(indexed)) {
        PyErr_SetString(PyExc_TypeError, "indexed must be a dict or None");
        return NULL;
    }
    from.indexed = indexed != Py_None && from.at >= 0 ? indexed : NULL;
    PyObject *iterator = PyObject_GetIter(labels);
    if (iterator == NULL) {
        return NULL;
    }
    PyObject *found = PyList_New(0), *blobs = PyList_New(0), *stage[STAGE];
    int count = 0, failed = found == NULL || blobs == NULL;
    while (!failed) {
        PyObject *label = PyIter_Next(iterator);
        if (label == NULL && PyErr_Occurred()) { /* the iterable raised */
            failed = 1;
            break;
        }
        if (label != NULL) {
            stage[count++] = label;
        }
        if (count > 0 && (count == STAGE || label == NULL)) {
            failed = gather_stage(stage, count, &from, found, blobs) < 0;
            count = 0;
        }
        if (label == NULL) {
            break;
        }
    }
    release(stage, count);
    Py_DECREF(iterator);
    PyObject *result = failed ? NULL : PyTuple_Pack(2, found, blobs);
    Py_XDECREF(found);
    Py_XDECREF(blobs);
    return result;
}

static PyMethodDef methods[] = {
    {"hash_blobs", hash_blobs, METH_VARARGS,
     "hash_blobs(labels, label_to_key, data, field, size[, indexed, at]) -> (labels, blobs): "
     "the vector blobs of the labels' hashes (see store/index/hash_blobs.py)."},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {
    PyModuleDef_HEAD_INIT, "hash_blobs_c",
    "The vector blobs of many indexed hashes (the C twin of hash_blobs.python_hash_blobs).",
    -1, methods,
};

PyMODINIT_FUNC PyInit_hash_blobs_c(void) { return PyModule_Create(&module); }
