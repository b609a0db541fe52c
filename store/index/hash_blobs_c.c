/*
 * The vector blobs of many indexed hashes, read in one C loop.
 *
 * The reference is python_hash_blobs() in store/index/hash_blobs.py; this module returns the
 * same lists without a Python-level call per label (tests/store/index/test_hash_blobs_c.py
 * holds the two to identical results). Contract of hash_blobs():
 *
 *   hash_blobs(labels, label_to_key, data, field, size) -> (list[int], list[bytes])
 *
 *   labels        any iterable of labels, read once in its own order
 *   label_to_key  a dict: label -> key
 *   data          a dict: key -> stored value
 *   field         the hash field holding the vector
 *   size          the blob length in bytes the field's vectors have
 *
 * For each label: its key (a label without one is skipped), the key's value (skipped
 * unless it is a dict: a hash), the value's ``field`` (kept only if it is bytes of exactly
 * ``size`` bytes). The kept labels and their blobs are returned, in the order of
 * ``labels``. Lookups are dict lookups: keys hash and compare as Python's dict.get does,
 * and an error raised there (an unhashable label) propagates. The caller holds the lock
 * under which ``data`` changes; the GIL is held throughout.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>

static PyObject *hash_blobs(PyObject *self, PyObject *args) {
    PyObject *labels, *label_to_key, *data, *field;
    Py_ssize_t size;
    (void)self;
    if (!PyArg_ParseTuple(args, "OO!O!On", &labels, &PyDict_Type, &label_to_key, &PyDict_Type,
                          &data, &field, &size)) {
        return NULL;
    }
    PyObject *iterator = PyObject_GetIter(labels);
    if (iterator == NULL) {
        return NULL;
    }
    PyObject *found = PyList_New(0), *blobs = PyList_New(0), *label = NULL;
    if (found == NULL || blobs == NULL) {
        goto fail;
    }
    while ((label = PyIter_Next(iterator)) != NULL) {
        /* strong references while in use: a lookup may run a key's __eq__ */
        PyObject *key = PyDict_GetItemWithError(label_to_key, label);
        if (key == NULL) {
            if (PyErr_Occurred()) {
                goto fail;
            }
            Py_DECREF(label);
            continue;
        }
        Py_INCREF(key);
        PyObject *value = PyDict_GetItemWithError(data, key);
        Py_DECREF(key);
        if (value == NULL) {
            if (PyErr_Occurred()) {
                goto fail;
            }
            Py_DECREF(label);
            continue;
        }
        if (PyDict_Check(value)) {
            Py_INCREF(value);
            PyObject *blob = PyDict_GetItemWithError(value, field);
            Py_XINCREF(blob);
            Py_DECREF(value);
            if (blob == NULL && PyErr_Occurred()) {
                goto fail;
            }
            int kept = blob != NULL && PyBytes_Check(blob) && PyBytes_GET_SIZE(blob) == size;
            if (kept && (PyList_Append(found, label) < 0 || PyList_Append(blobs, blob) < 0)) {
                Py_DECREF(blob);
                goto fail;
            }
            Py_XDECREF(blob);
        }
        Py_DECREF(label);
    }
    if (PyErr_Occurred()) {
        goto fail;
    }
    Py_DECREF(iterator);
    PyObject *result = PyTuple_Pack(2, found, blobs);
    Py_DECREF(found);
    Py_DECREF(blobs);
    return result;
fail:
    Py_XDECREF(label);
    Py_DECREF(iterator);
    Py_XDECREF(found);
    Py_XDECREF(blobs);
    return NULL;
}

static PyMethodDef methods[] = {
    {"hash_blobs", hash_blobs, METH_VARARGS,
     "hash_blobs(labels, label_to_key, data, field, size) -> (labels, blobs): the vector "
     "blobs of the labels' hashes (see store/index/hash_blobs.py)."},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {
    PyModuleDef_HEAD_INIT, "hash_blobs_c",
    "The vector blobs of many indexed hashes (the C twin of hash_blobs.python_hash_blobs).",
    -1, methods,
};

PyMODINIT_FUNC PyInit_hash_blobs_c(void) { return PyModule_Create(&module); }
