# -*- coding: utf-8 -*-
"""The seed notebook's code on its own stack (Python 2.7, Theano 1.0.5, Fuel 0.2.0).

Code cells 1-7 of the seed (shared/seed/000_a78ddc50fbe55b81.txt, the 2015 MILA
lstm_text.ipynb) follow VERBATIM, with only their lost indentation restored; nothing in
them is changed. Cell 8 (the 40-epoch training loop) is replaced by the harness at the end
of this file, which trains 60 minibatches and writes the golden numbers as JSON.

Run it with Python 2.7 in a folder that holds traindata.txt, valdata.txt and
dictionary.pkl (cell 1 then downloads nothing), with THEANO_FLAGS and FUEL_FLOATX set to
the same floatX:

    python2.7 lstm_text_original.py OUT.json

tools/original_stack/regenerate.sh (make golden) does all of that; see README.md there.
"""

# --- seed code cell 1 ---
import os
import requests
import gzip

from six.moves import cPickle as pkl
import time

import numpy
import theano
import theano.tensor as T

from theano.tensor.nnet import categorical_crossentropy
from theano import config
from fuel.datasets import TextFile
from fuel.streams import DataStream
from fuel.schemes import ConstantScheme
from fuel.transformers import Batch, Padding

if not os.path.exists('traindata.txt'):
    r = requests.get('http://www-etud.iro.umontreal.ca/~brakelp/traindata.txt.gz')
    with open('traindata.txt.gz', 'wb') as data_file:
        data_file.write(r.content)
    with gzip.open('traindata.txt.gz', 'rb') as data_file:
        with open('traindata.txt', 'w') as out_file:
            out_file.write(data_file.read())

if not os.path.exists('valdata.txt'):
    r = requests.get('http://www-etud.iro.umontreal.ca/~brakelp/valdata.txt.gz')
    with open('valdata.txt.gz', 'wb') as data_file:
        data_file.write(r.content)
    with gzip.open('valdata.txt.gz', 'rb') as data_file:
        with open('valdata.txt', 'w') as out_file:
            out_file.write(data_file.read())

if not os.path.exists('dictionary.pkl'):
    r = requests.get('http://www-etud.iro.umontreal.ca/~brakelp/dictionary.pkl')
    with open('dictionary.pkl', 'wb') as data_file:
        data_file.write(r.content)

# --- seed code cell 2 ---
def gauss_weight(rng, ndim_in, ndim_out=None, sd=.005):
    if ndim_out is None:
        ndim_out = ndim_in
    W = rng.randn(ndim_in, ndim_out) * sd
    return numpy.asarray(W, dtype=config.floatX)


def index_dot(indices, w):
    return w[indices.flatten()]


class LstmLayer:

    def __init__(self, rng, input, mask, n_in, n_h):

        # Init params
        self.W_i = theano.shared(gauss_weight(rng, n_in, n_h), 'W_i', borrow=True)
        self.W_f = theano.shared(gauss_weight(rng, n_in, n_h), 'W_f', borrow=True)
        self.W_c = theano.shared(gauss_weight(rng, n_in, n_h), 'W_c', borrow=True)
        self.W_o = theano.shared(gauss_weight(rng, n_in, n_h), 'W_o', borrow=True)

        self.U_i = theano.shared(gauss_weight(rng, n_h), 'U_i', borrow=True)
        self.U_f = theano.shared(gauss_weight(rng, n_h), 'U_f', borrow=True)
        self.U_c = theano.shared(gauss_weight(rng, n_h), 'U_c', borrow=True)
        self.U_o = theano.shared(gauss_weight(rng, n_h), 'U_o', borrow=True)

        self.b_i = theano.shared(numpy.zeros((n_h,), dtype=config.floatX),
                                 'b_i', borrow=True)
        self.b_f = theano.shared(numpy.zeros((n_h,), dtype=config.floatX),
                                 'b_f', borrow=True)
        self.b_c = theano.shared(numpy.zeros((n_h,), dtype=config.floatX),
                                 'b_c', borrow=True)
        self.b_o = theano.shared(numpy.zeros((n_h,), dtype=config.floatX),
                                 'b_o', borrow=True)

        self.params = [self.W_i, self.W_f, self.W_c, self.W_o,
                       self.U_i, self.U_f, self.U_c, self.U_o,
                       self.b_i, self.b_f, self.b_c, self.b_o]

        outputs_info = [T.zeros((input.shape[1], n_h)),
                        T.zeros((input.shape[1], n_h))]

        rval, updates = theano.scan(self._step,
                                    sequences=[mask, input],
                                    outputs_info=outputs_info)

        # self.output is in the format (length, batchsize, n_h)
        self.output = rval[0]

    def _step(self, m_, x_, h_, c_):

        i_preact = (index_dot(x_, self.W_i) +
                    T.dot(h_, self.U_i) + self.b_i)
        i = T.nnet.sigmoid(i_preact)

        f_preact = (index_dot(x_, self.W_f) +
                    T.dot(h_, self.U_f) + self.b_f)
        f = T.nnet.sigmoid(f_preact)

        o_preact = (index_dot(x_, self.W_o) +
                    T.dot(h_, self.U_o) + self.b_o)
        o = T.nnet.sigmoid(o_preact)

        c_preact = (index_dot(x_, self.W_c) +
                    T.dot(h_, self.U_c) + self.b_c)
        c = T.tanh(c_preact)

        c = f * c_ + i * c
        c = m_[:, None] * c + (1. - m_)[:, None] * c_

        h = o * T.tanh(c)
        h = m_[:, None] * h + (1. - m_)[:, None] * h_

        return h, c

# --- seed code cell 3 ---
def sequence_categorical_crossentropy(prediction, targets, mask):
    prediction_flat = prediction.reshape(((prediction.shape[0] *
                                           prediction.shape[1]),
                                          prediction.shape[2]), ndim=2)
    targets_flat = targets.flatten()
    mask_flat = mask.flatten()
    ce = categorical_crossentropy(prediction_flat, targets_flat)
    return T.sum(ce * mask_flat)


class LogisticRegression(object):

    def __init__(self, rng, input, n_in, n_out):

        W = gauss_weight(rng, n_in, n_out)
        self.W = theano.shared(value=numpy.asarray(W, dtype=theano.config.floatX),
                               name='W', borrow=True)
        # initialize the biases b as a vector of n_out 0s
        self.b = theano.shared(value=numpy.zeros((n_out,),
                                                 dtype=theano.config.floatX),
                               name='b', borrow=True)

        # compute vector of class-membership probabilities in symbolic form
        energy = T.dot(input, self.W) + self.b
        energy_exp = T.exp(energy - T.max(energy, axis=2, keepdims=True))
        pmf = energy_exp / energy_exp.sum(axis=2, keepdims=True)
        self.p_y_given_x = pmf
        self.params = [self.W, self.b]

# --- seed code cell 4 ---
batch_size = 100
n_epochs = 40
n_h = 50
DICT_FILE = 'dictionary.pkl'
TRAIN_FILE = 'traindata.txt'
VAL_FILE = 'valdata.txt'

# Load the datasets with Fuel
dictionary = pkl.load(open(DICT_FILE, 'r'))
# add a symbol for unknown characters
dictionary['~'] = len(dictionary)
reverse_mapping = dict((j, i) for i, j in dictionary.items())

train = TextFile(files=[TRAIN_FILE],
                 dictionary=dictionary,
                 unk_token='~',
                 level='character',
                 preprocess=str.lower,
                 bos_token=None,
                 eos_token=None)

train_stream = DataStream.default_stream(train)

# organize data in batches and pad shorter sequences with zeros
train_stream = Batch(train_stream,
                     iteration_scheme=ConstantScheme(batch_size))
train_stream = Padding(train_stream)

# idem dito for the validation text
val = TextFile(files=[VAL_FILE],
                 dictionary=dictionary,
                 unk_token='~',
                 level='character',
                 preprocess=str.lower,
                 bos_token=None,
                 eos_token=None)

val_stream = DataStream.default_stream(val)

# organize data in batches and pad shorter sequences with zeros
val_stream = Batch(val_stream,
                     iteration_scheme=ConstantScheme(batch_size))
val_stream = Padding(val_stream)

# --- seed code cell 5 ---
# Set the random number generator' seeds for consistency
rng = numpy.random.RandomState(12345)

x = T.lmatrix('x')
mask = T.matrix('mask')

# Construct an LSTM layer and a logistic regression layer
recurrent_layer = LstmLayer(rng=rng, input=x, mask=mask, n_in=111, n_h=n_h)
logreg_layer = LogisticRegression(rng=rng, input=recurrent_layer.output[:-1],
                                  n_in=n_h, n_out=111)

# define a cost variable to optimize
cost = sequence_categorical_crossentropy(logreg_layer.p_y_given_x,
                                         x[1:],
                                         mask[1:]) / batch_size

# create a list of all model parameters to be fit by gradient descent
params = logreg_layer.params + recurrent_layer.params

# create a list of gradients for all model parameters
grads = T.grad(cost, params)

# --- seed code cell 6 ---
learning_rate = 0.1
updates = [
    (param_i, param_i - learning_rate * grad_i)
    for param_i, grad_i in zip(params, grads)
]

update_model = theano.function([x, mask], cost, updates=updates)

evaluate_model = theano.function([x, mask], cost)

# --- seed code cell 7 ---
x_t = T.iscalar()
h_p = T.vector()
c_p = T.vector()
h_t, c_t = recurrent_layer._step(T.ones(1), x_t, h_p, c_p)
energy = T.dot(h_t, logreg_layer.W) + logreg_layer.b

energy_exp = T.exp(energy - T.max(energy, axis=1, keepdims=True))

output = energy_exp / energy_exp.sum(axis=1, keepdims=True)
single_step = theano.function([x_t, h_p, c_p], [output, h_t, c_t])

def speak(single_step, prefix='the meaning of life is ', n_steps=450):
    try:
        h_p = numpy.zeros((n_h,), dtype=config.floatX)
        c_p = numpy.zeros((n_h,), dtype=config.floatX)
        sentence = prefix
        for char in prefix:
            x_t = dictionary[char]
            prediction, h_p, c_p = single_step(x_t, h_p.flatten(),
                                               c_p.flatten())
        # Renormalize probability in float64
        flat_prediction = prediction.flatten()
        flat_pred_sum = flat_prediction.sum(dtype='float64')
        if flat_pred_sum > 1:
            flat_prediction = flat_prediction.astype('float64') / flat_pred_sum
        sample = numpy.random.multinomial(1, flat_prediction)

        for i in range(n_steps):
            x_t = numpy.argmax(sample)
            prediction, h_p, c_p = single_step(x_t, h_p.flatten(),
                                               c_p.flatten())
            # Renormalize probability in float64
            flat_prediction = prediction.flatten()
            flat_pred_sum = flat_prediction.sum(dtype='float64')
            if flat_pred_sum > 1:
                flat_prediction = flat_prediction.astype('float64') / flat_pred_sum
            sample = numpy.random.multinomial(1, flat_prediction)

            sentence += reverse_mapping[x_t]

        return sentence
    except ValueError as e:
        print 'Something went wrong during sentence generation: {}'.format(e)

# --- end of seed code (cell 8, the 40-epoch training loop, is replaced below) ---


# =========================================================================================
# Harness: NOT seed code. It stands in for cell 8 and writes the golden numbers as JSON.
# =========================================================================================
import json
import sys

import fuel
import scipy
import six

HARNESS_STEPS = 60                  # update_model calls: 2 epochs of 30 minibatches
HARNESS_SAMPLE_SEED = 1234          # numpy.random.seed before speak
HARNESS_PREFIX = 'the meaning of life is '
HARNESS_SAMPLE_STEPS = 200
HARNESS_PARAM_NAMES = ['W', 'b', 'W_i', 'W_f', 'W_c', 'W_o', 'U_i', 'U_f', 'U_c', 'U_o',
                       'b_i', 'b_f', 'b_c', 'b_o']


def harness_float(value):
    """A 0-d result as a Python float (exact for float32 and float64; JSON writes repr)."""
    return float(numpy.asarray(value).item())


def harness_param_norms():
    """The Frobenius norm of every parameter, in `params` order, computed in float64."""
    names = [p.name for p in params]
    assert names == HARNESS_PARAM_NAMES, names
    norms = {}
    for p in params:
        value = numpy.asarray(p.get_value(), dtype='float64')
        norms[p.name] = float(numpy.sqrt(numpy.sum(value * value)))
    return norms


def harness_valid_ce():
    """The validation cross-entropy exactly as cell 8 computes it."""
    val_scores = []
    for x_val, mask_val in val_stream.get_epoch_iterator():
        val_scores.append(evaluate_model(x_val.T, mask_val.T))
    return numpy.mean(val_scores)


def harness_main(out_path):
    assert config.floatX == fuel.config.floatX, (config.floatX, fuel.config.floatX)
    norms_before = harness_param_norms()
    valid_ce_before = harness_valid_ce()
    x_, mask_ = next(train_stream.get_epoch_iterator())
    initial_cost = evaluate_model(x_.T, mask_.T)
    first_batch_predicted = int(mask_[:, 1:].sum())

    costs = []
    epochs = 0
    while len(costs) < HARNESS_STEPS:
        epochs += 1
        for x_, mask_ in train_stream.get_epoch_iterator():
            cross_entropy = update_model(x_.T, mask_.T)
            costs.append(cross_entropy)
            if len(costs) == HARNESS_STEPS:
                break

    valid_ce = harness_valid_ce()
    norms_after = harness_param_norms()

    numpy.random.seed(HARNESS_SAMPLE_SEED)
    sentence = speak(single_step, prefix=HARNESS_PREFIX, n_steps=HARNESS_SAMPLE_STEPS)

    result = {
        'floatX': config.floatX,
        'fuel_floatX': fuel.config.floatX,
        'cost_dtype': str(numpy.asarray(costs[0]).dtype),
        'epochs_started': epochs,
        'first_batch_predicted_chars': first_batch_predicted,
        'costs': [harness_float(c) for c in costs],
        'initial_cost': harness_float(initial_cost),
        'valid_ce_before': harness_float(valid_ce_before),
        'valid_ce': harness_float(valid_ce),
        'param_norms': {'before': norms_before, 'after': norms_after},
        'sample': {
            'numpy_seed': HARNESS_SAMPLE_SEED,
            'prefix': HARNESS_PREFIX,
            'n_steps': HARNESS_SAMPLE_STEPS,
            # dictionary keys are byte strings; latin-1 maps each byte to one character
            # (the filler keys 0x80.. as U+0080..), as the Python 3 loader decodes them.
            # None when speak caught a ValueError (it prints the message and returns None).
            'text': None if sentence is None else sentence.decode('latin-1'),
        },
        'versions': {
            'python': sys.version.split()[0],
            'numpy': numpy.__version__,
            'scipy': scipy.__version__,
            'theano': theano.__version__,
            'fuel': fuel.__version__,
            'six': six.__version__,
        },
    }
    with open(out_path, 'w') as handle:
        json.dump(result, handle, indent=1, sort_keys=True)
        handle.write('\n')
    print 'harness: wrote', out_path


if __name__ == '__main__':
    harness_main(sys.argv[1])
