"""How far the notebook's model goes in a wall-clock budget: one configuration, trained and kept.

    python -m lstm_text.study --trainer fast --minutes 30 --out build/study/fast
    python -m lstm_text.study --trainer torch --minutes 30 --out build/study/torch

(`make study` starts both at once, one thread each.) Two trainers, one recipe and the very same
minibatches: `fast`, the project's one-C-Op model (lstm_text.speed.fast_op, tested equal to
the notebook's), and `torch`, PyTorch's nn.LSTM (lstm_text.speed.benchmark.torch_lstm). Both
start from the same weights, drawn and initialised as the experiments notebook does; the
minibatch stream, the position and random generators (`Run`), the optimizer update rules,
the gradient clipping, the validation point (`record`) and the resumable checkpoint
(`save_run` / `load_run`) are the experiments notebook's own code (lstm_text.experiments). Validation is the notebooks' metric:
*Persuasion* sentences, each from a fresh state, bits per character.

The output folder gets, at every validation point (every --valid-every wall seconds):
  log.json    the configuration, the machine (processor, BLAS and its kernel, threads) and the
              curve: wall and CPU seconds, characters trained on, learning rate, gradient norm,
              training and validation bpc; at the end the kept model's test bpc
  resume.npz  all a run needs to go on: run the same command again after a kill and it continues
              from there with the same curve (at most one interval is lost)
  best.npz    the model with the best validation bpc so far, in the main notebook's parameter
              format (W, b, W_i ... b_o): its `speak` can load it (lstm_text.study.load_best)
The budget counts all wall time after compiling, validation included.
"""
import os

if __name__ == "__main__":   # run as a command: one core per trainer (imported: no side effect)
    os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")   # before NumPy loads

import argparse  # noqa: E402
import inspect  # noqa: E402
import json  # noqa: E402
import math  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402

from lstm_text import environment  # noqa: E402  (Theano and Fuel flags first; NumPy's BLAS)
import numpy  # noqa: E402
import theano  # noqa: E402
import theano.tensor as T  # noqa: E402

from lstm_text import experiments  # noqa: E402
from lstm_text.speed import fast_graph, fast_op  # noqa: E402
from lstm_text.speed.benchmark.torch_lstm import FUSED_NAMES, TorchLstm  # noqa: E402
from lstm_text.checkpoints import CheckpointError, load_checkpoint, save_checkpoint  # noqa: E402
from lstm_text.corpus import load_corpus  # noqa: E402
from lstm_text.files import atomic_write_bytes  # noqa: E402
from lstm_text.notebook_model import LogisticRegression, LstmLayer, validate  # noqa: E402
from lstm_text.parameters import ParameterError  # noqa: E402

RECIPE = dict(n_h=384, optimizer="adam", learning_rate=0.01, warmup=50, final_fraction=0.1,
              max_grad_norm=5.0, sd=0.1, orthogonal_u=True, forget_bias=1.0, bucketed=True,
              batch_size=64, seed=12345, corpus="austen")
"""The default configuration (see docs/study.md for how it was chosen)."""
TRAINERS = ("fast", "torch")
TORCH_OPTIMIZERS = ("sgd", "adam")


class StudyError(ValueError):
    """A study setting or its output folder is unusable; the message is one line."""


# -- the learning-rate schedule -----------------------------------------------------------------

def learning_rate(config, iteration, progress):
    """Linear warm-up over config['warmup'] minibatches, then a cosine decay over the budget
    (progress 0..1) down to config['final_fraction'] of config['learning_rate']."""
    warm = min(1.0, (iteration + 1) / max(1, config["warmup"]))
    floor = config["final_fraction"]
    decay = floor + (1 - floor) * 0.5 * (1 + math.cos(math.pi * min(1.0, max(0.0, progress))))
    return config["learning_rate"] * warm * decay


# -- the two trainers ---------------------------------------------------------------------------

def initial_values(n_in, config):
    """The first weights, fused [W_out, b_out, W, U, b]: drawn by the notebook's LstmLayer and
    LogisticRegression for the seed, then changed by the experiments' `initialise`, exactly as
    the experiments notebook's Model does (nothing is compiled)."""
    rng = numpy.random.RandomState(config["seed"])
    x, mask = T.lmatrix("x"), T.matrix("mask")
    lstm = LstmLayer(rng=rng, input=x, mask=mask, n_in=n_in, n_h=config["n_h"])
    softmax = LogisticRegression(rng=rng, input=lstm.output[:-1], n_in=config["n_h"], n_out=n_in)
    experiments.initialise(lstm, rng, config["sd"], config["orthogonal_u"], config["forget_bias"])
    return fast_graph.fuse_params([p.get_value() for p in softmax.params + lstm.params])


class FastModel:
    """The one-C-Op model with the experiments' clipping and optimizer; the learning rate is a
    shared variable, set before every minibatch."""

    def __init__(self, n_in, config):
        self.n_h, self.batch_size = config["n_h"], config["batch_size"]
        graph = fast_op.build_op_graph(n_in, self.n_h, self.batch_size, seed=config["seed"],
                                       functions=("single_step",))
        for variable, name, value in zip(graph.params, FUSED_NAMES, initial_values(n_in, config)):
            variable.name = name                   # unique names for the optimizer's state
            variable.set_value(numpy.asarray(value, dtype=theano.config.floatX))
        self.params = graph.params
        floatx = theano.config.floatX
        self.rate = theano.shared(numpy.asarray(config["learning_rate"], dtype=floatx),
                                  name="learning_rate")
        grads, grad_norm = experiments.clip_gradients(graph.grads, config["max_grad_norm"])
        self.updates, self.state = experiments.OPTIMIZERS[config["optimizer"]](
            graph.params, grads, learning_rate=self.rate)
        self.update_model = fast_graph.function([graph.x, graph.mask], [graph.cost, grad_norm],
                                                updates=self.updates)
        self.evaluate_model = fast_graph.function([graph.x, graph.mask], graph.cost)
        self.single_step = graph.single_step

    def set_learning_rate(self, rate):
        self.rate.set_value(numpy.asarray(rate, dtype=self.rate.dtype))

    def values(self):
        return [variable.get_value() for variable in self.params]

    def set_values(self, values):
        for variable, value in zip(self.params, values):
            variable.set_value(numpy.asarray(value, dtype=variable.dtype))


def optimizer_defaults(name):
    """The keyword defaults of one of the experiments' update rules (Adam's betas, epsilon)."""
    signature = inspect.signature(experiments.OPTIMIZERS[name])
    return {key: parameter.default for key, parameter in signature.parameters.items()
            if parameter.default is not inspect.Parameter.empty}


class _TorchValue:
    """One array of the PyTorch model seen as a Theano shared variable (name, get_value,
    set_value), so that the experiments' save_run / load_run checkpoint it unchanged."""

    def __init__(self, name, get, set_):
        self.name, self._get, self._set = name, get, set_

    def get_value(self, borrow=False):
        return self._get()

    def set_value(self, value):
        self._set(numpy.asarray(value))


class TorchModel:
    """PyTorch's nn.LSTM with the same recipe: torch's Adam (or SGD) with the experiments'
    settings, gradient-norm clipping, the learning rate set before every minibatch."""

    def __init__(self, n_in, config, threads=1):
        self.n_h, self.batch_size = config["n_h"], config["batch_size"]
        self.net = net = TorchLstm(initial_values(n_in, config), self.batch_size, threads)
        self.torch, self.max_grad_norm = net.torch, config["max_grad_norm"]
        settings = optimizer_defaults(config["optimizer"])
        if config["optimizer"] == "adam":
            self.optimizer = net.torch.optim.Adam(
                net.params, lr=settings["learning_rate"],
                betas=(settings["beta1"], settings["beta2"]), eps=settings["epsilon"])
        else:
            self.optimizer = net.torch.optim.SGD(net.params, lr=settings["learning_rate"])
        self.params = [_TorchValue(name, self._getter(i), self._setter(i))
                       for i, name in enumerate(FUSED_NAMES)]
        self.state = self._optimizer_state()
        self.evaluate_model, self.single_step = net.evaluate_model, net.single_step

    def _getter(self, index):
        return lambda: self.net.values()[index]

    def _setter(self, index):
        def set_(value):
            values = self.net.values()
            values[index] = value.astype(values[index].dtype)
            self.net.set_values(values)
        return set_

    def _optimizer_state(self):
        # Adam's step, exp_avg and exp_avg_sq of each torch parameter (zeros before step 1).
        if not isinstance(self.optimizer, self.torch.optim.Adam):
            return []
        state = []
        for index, param in enumerate(self.net.params):
            for key in ("step", "exp_avg", "exp_avg_sq"):
                state.append(_TorchValue("torch.adam.%d.%s" % (index, key),
                                         self._state_getter(param, key),
                                         self._state_setter(param, key)))
        return state

    def _state_getter(self, param, key):
        def get():
            value = self.optimizer.state.get(param, {}).get(key)
            if value is None:
                return (numpy.zeros((), dtype="float32") if key == "step" else
                        numpy.zeros(tuple(param.shape), dtype=param.detach().numpy().dtype))
            return value.detach().numpy().copy()
        return get

    def _state_setter(self, param, key):
        def set_(value):
            self.optimizer.state[param][key] = self.torch.from_numpy(numpy.array(value))
        return set_

    def set_learning_rate(self, rate):
        for group in self.optimizer.param_groups:
            group["lr"] = float(rate)

    def update_model(self, x, mask):
        """One clipped step; returns the cost before it and the gradient norm before clipping."""
        self.optimizer.zero_grad(set_to_none=True)
        cost = self.net.cost(x, mask)
        cost.backward()
        norm = self.torch.nn.utils.clip_grad_norm_(
            self.net.params, self.max_grad_norm if self.max_grad_norm else math.inf)
        self.optimizer.step()
        return float(cost.item()), float(norm)

    def values(self):
        return self.net.values()

    def set_values(self, values):
        self.net.set_values(values)


# -- one study: build, resume, train, keep the best -----------------------------------------------

class Study:
    """A run of one trainer: its folder, model, `Run` (stream and position) and streams."""

    def __init__(self, out, config, minutes=None, minibatches=None, valid_every=120.0,
                 valid_every_minibatches=None, threads=1, corpus=None):
        if (minutes is None) == (minibatches is None):
            raise StudyError("give the budget as minutes or as minibatches (one of the two)")
        self.out, self.config = os.path.abspath(out), dict(config)
        self.budget = dict(minutes=minutes, minibatches=minibatches)
        self.valid_every, self.valid_every_minibatches = valid_every, valid_every_minibatches
        self.threads = threads
        check_folder(self.out)
        self.corpus = corpus if corpus is not None else load_corpus(config["corpus"])
        n_in = len(self.corpus.dictionary)
        self.model = (FastModel(n_in, config) if config["trainer"] == "fast"
                      else TorchModel(n_in, config, threads))
        self.run = experiments.Run(config["trainer"], config, self.corpus, config["seed"],
                                   config["batch_size"], model=self.model)
        dataset = experiments.text_dataset
        batch = config["batch_size"]
        self.valid_stream = experiments.bucketed_stream(dataset(self.corpus.valid_file,
                                                                self.corpus), batch, 1000)
        self.test_stream = (experiments.bucketed_stream(dataset(self.corpus.test_file,
                                                                self.corpus), batch, 1000)
                            if self.corpus.test_file else None)
        self.best = dict(valid_bpc=math.inf)
        self.test_bpc = None
        if os.path.exists(self.path("resume.npz")):
            self.resume()

    def path(self, name):
        return os.path.join(self.out, name)

    def resume(self):
        """Continue from resume.npz (the experiments' load_run: refuses another configuration)."""
        arrays, meta = load_checkpoint(self.path("resume.npz"), meta_keys=("budget",))
        if meta["budget"] != self.budget:
            raise StudyError("%s was started with the budget %s, not %s: give the same budget, "
                             "or another --out" % (self.path("resume.npz"), meta["budget"],
                                                    self.budget))
        experiments.load_run(self.path("resume.npz"), self.run)
        self.test_bpc = meta.get("test_bpc")
        if os.path.exists(self.path("best.npz")):
            self.best = load_checkpoint(self.path("best.npz"), meta_keys=("valid_bpc",))[1]

    # progress through the budget, 0..1
    def progress(self):
        position = self.run.position
        if self.budget["minibatches"] is not None:
            return position["iteration"] / self.budget["minibatches"]
        return position["seconds"] / (60.0 * self.budget["minutes"])

    def point_due(self, last):
        position = self.run.position
        if self.valid_every_minibatches:
            return position["iteration"] - last["minibatch"] >= self.valid_every_minibatches
        return position["seconds"] - last["seconds"] >= self.valid_every

    def point(self, rate, grad_norms):
        """A validation point: the curve, the best model, the resume checkpoint, the log."""
        run, history = self.run, self.run.history
        started, cpu_started = time.perf_counter(), time.process_time()
        experiments.record(run, self.valid_stream)
        for key, value in (("learning_rate", rate), ("characters", run.counts["real_chars"]),
                           ("grad_norm_median", float(numpy.median(grad_norms))
                            if grad_norms else float("nan"))):
            history.setdefault(key, []).append(value)
        run.position["seconds"] += time.perf_counter() - started
        run.position["cpu_seconds"] += time.process_time() - cpu_started
        valid_bpc = history["valid_bpc"][-1]
        if valid_bpc < self.best["valid_bpc"]:
            self.best = dict(valid_bpc=valid_bpc, minibatch=run.position["iteration"],
                             seconds=history["seconds"][-1], config=self.config)
            save_best(self.path("best.npz"), self.model.values(), self.best)
        self.save()

    def save(self):
        experiments.save_run(self.path("resume.npz"), self.run, budget=self.budget,
                             test_bpc=self.test_bpc)
        self.write_log()

    def spent(self):
        return self.progress() >= 1.0

    def train(self, until=None):
        """Train to the end of the budget (or to minibatch `until`: a stop, as a kill would be),
        with a validation point every interval; at the end, score the kept model on the test
        split."""
        run, position = self.run, self.run.position
        if run._minibatches is None:
            run._minibatches = run.minibatches()
        rate, grad_norms = learning_rate(self.config, position["iteration"], self.progress()), []
        if not run.history["minibatch"]:
            self.point(rate, grad_norms)                      # the untrained model: point 0
            self.say()
        last = dict(minibatch=run.history["minibatch"][-1], seconds=position["seconds"])
        while not run.diverged and not self.spent():
            if until is not None and position["iteration"] >= until:
                return self
            started, cpu_started = time.perf_counter(), time.process_time()
            x, mask = next(run._minibatches)
            rate = learning_rate(self.config, position["iteration"], self.progress())
            self.model.set_learning_rate(rate)
            cost, grad_norm = self.model.update_model(x.T, mask.T)
            position["seconds"] += time.perf_counter() - started
            position["cpu_seconds"] += time.process_time() - cpu_started
            position["batch"] += 1
            position["iteration"] += 1
            grad_norms.append(float(grad_norm))
            if not numpy.isfinite(cost):
                run.diverged = "cost %s at minibatch %d" % (cost, position["iteration"])
                break
            run.counts["train_ce"] += float(cost) * self.model.batch_size
            run.counts["train_predicted"] += int(mask[:, 1:].sum())
            run.counts["real_chars"] += int(mask.sum())
            run.counts["computed_chars"] += mask.size
            if self.point_due(last):
                self.point(rate, grad_norms)
                self.say()
                grad_norms = []
                last = dict(minibatch=position["iteration"], seconds=position["seconds"])
        if run.history["minibatch"][-1] != position["iteration"]:
            self.point(rate, grad_norms)                      # the last point of the curve
        if self.test_bpc is None and self.test_stream is not None and \
                os.path.exists(self.path("best.npz")):
            self.test_bpc = self.score_best(self.test_stream)
            self.save()
        return self

    def say(self):
        """One line per validation point, for the run's console log."""
        history = self.run.history
        print("%s: minibatch %d, %.0f s, %.1f M characters, lr %.2g: train %.3f, valid %.3f bpc"
              % (self.config["trainer"], history["minibatch"][-1], history["seconds"][-1],
                 history["characters"][-1] / 1e6, history["learning_rate"][-1],
                 history["train_bpc"][-1], history["valid_bpc"][-1]), flush=True)

    def score_best(self, stream):
        """Bits per character of the kept model (best.npz) on a stream; the model's own
        parameters are put back afterwards."""
        current = self.model.values()
        self.model.set_values(fast_graph.fuse_params(load_best(self.path("best.npz"))[0]))
        try:
            return float(validate(self.model.evaluate_model, stream, self.model.batch_size)[1])
        finally:
            self.model.set_values(current)

    def write_log(self):
        history, position = self.run.history, self.run.position
        keys = [("minibatch", "minibatch"), ("seconds", "wall_seconds"),
                ("cpu_seconds", "cpu_seconds"), ("characters", "characters"),
                ("learning_rate", "learning_rate"), ("grad_norm_median", "grad_norm_median"),
                ("train_bpc", "train_bpc"), ("valid_bpc", "valid_bpc")]
        points = [{label: _finite(history[key][i]) for key, label in keys}
                  for i in range(len(history["minibatch"]))]
        log = dict(trainer=self.config["trainer"], config=self.config, budget=self.budget,
                   valid_every=(dict(minibatches=self.valid_every_minibatches)
                                if self.valid_every_minibatches else
                                dict(seconds=self.valid_every)),
                   machine=machine(self.config["trainer"], self.threads),
                   corpus=self.corpus.source, points=points,
                   best={k: _finite(v) for k, v in self.best.items() if k != "config"},
                   test_bpc=self.test_bpc, diverged=self.run.diverged,
                   finished=self.spent() or bool(self.run.diverged),
                   minibatches=position["iteration"], epochs=position["epoch"])
        text = json.dumps(log, indent=1, allow_nan=False) + "\n"
        atomic_write_bytes(self.path("log.json"), text.encode("utf-8"))


def _finite(value):
    """JSON has no NaN: a number that is not finite is written as null."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def machine(trainer, threads):
    """The processor, the BLAS and its kernel, and the threads: speed depends on all three."""
    settings = environment.SETTINGS
    record = dict(cpu=settings["cpu"], blas=settings["blas"], numpy_blas=settings["numpy blas"],
                  blas_ldflags=settings["blas.ldflags"], python=settings["python"],
                  theano=settings["theano"], openblas_threads=os.environ.get(
                      "OPENBLAS_NUM_THREADS"), threads=threads)
    if trainer == "torch":
        import torch
        record.update(torch=torch.__version__, torch_threads=torch.get_num_threads())
    return record


def save_best(path, fused_values, meta):
    """The model in the main notebook's format: its 14 arrays under their names (W, b, W_i ...)."""
    arrays = dict(zip(NOTEBOOK_NAMES, fast_graph.unfuse_params(fused_values)))
    save_checkpoint(path, arrays, meta)


NOTEBOOK_NAMES = ("W", "b", "W_i", "W_f", "W_c", "W_o", "U_i", "U_f", "U_c", "U_o",
                  "b_i", "b_f", "b_c", "b_o")
"""The main notebook's `params` names: softmax.params + lstm.params."""


def load_best(path):
    """(the 14 arrays in the notebook's `params` order, meta) of a kept model; load them into
    the notebook's parameters with checkpoints.set_shared_values."""
    arrays, meta = load_checkpoint(path, meta_keys=("valid_bpc", "config"),
                                   array_names=NOTEBOOK_NAMES)
    return [arrays[name] for name in NOTEBOOK_NAMES], meta


def check_folder(out):
    """Create the output folder now and make sure it can be written, before anything runs."""
    try:
        os.makedirs(out, exist_ok=True)
        probe = os.path.join(out, ".write-test-%d" % os.getpid())
        with open(probe, "wb"):
            pass
        os.remove(probe)
    except OSError as error:
        raise StudyError("--out %s: cannot write there (%s)"
                         % (out, error.strerror or error)) from None


# -- publishing finished runs -------------------------------------------------------------------

def publish(folders, to):
    """Copy finished runs into `to` (docs/study): each run's log as TRAINER-log.json, the fast
    trainer's kept model as fast-best.npz, and a plot of both curves (curves.png)."""
    from lstm_text.plots import plot_study
    logs = []
    for folder in folders:
        log = json.loads(open(os.path.join(folder, "log.json"), encoding="utf-8").read())
        if not log["finished"]:
            raise StudyError("%s has not finished its budget: run it again to resume it first"
                             % folder)
        logs.append(log)
        text = json.dumps(log, indent=1) + "\n"
        atomic_write_bytes(os.path.join(to, "%s-log.json" % log["trainer"]), text.encode())
        if log["trainer"] == "fast":
            with open(os.path.join(folder, "best.npz"), "rb") as best:
                atomic_write_bytes(os.path.join(to, "fast-best.npz"), best.read())
    plot_study(logs, path=os.path.join(to, "curves.png"))
    return logs


# -- the command line ---------------------------------------------------------------------------

def positive(type_):
    def convert(text):
        value = type_(text)
        if not value > 0 or (type_ is float and not math.isfinite(value)):
            raise argparse.ArgumentTypeError("must be a finite number above 0, not %s" % text)
        return value
    convert.__name__ = type_.__name__
    return convert


def parser():
    p = argparse.ArgumentParser(prog="python -m lstm_text.study", description=__doc__.split(
        "\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--trainer", choices=TRAINERS, default="fast")
    p.add_argument("--out", required=True, help="output folder (resumed when it has a run)")
    budget = p.add_mutually_exclusive_group()
    budget.add_argument("--minutes", type=positive(float), help="wall-clock budget (default 30)")
    budget.add_argument("--minibatches", type=positive(int), help="budget in minibatches")
    p.add_argument("--valid-every", type=positive(float), default=120.0,
                   help="wall seconds between validation points (default 120)")
    p.add_argument("--valid-every-minibatches", type=positive(int))
    p.add_argument("--threads", type=positive(int), default=1,
                   help="PyTorch's threads (the fast trainer: set OPENBLAS_NUM_THREADS)")
    p.add_argument("--n-h", type=positive(int), default=RECIPE["n_h"])
    p.add_argument("--optimizer", choices=sorted(experiments.OPTIMIZERS), default="adam")
    p.add_argument("--learning-rate", type=positive(float), default=RECIPE["learning_rate"])
    p.add_argument("--warmup", type=positive(int), default=RECIPE["warmup"])
    p.add_argument("--final-fraction", type=float, default=RECIPE["final_fraction"])
    p.add_argument("--max-grad-norm", type=float, default=RECIPE["max_grad_norm"])
    p.add_argument("--sd", type=positive(float), default=RECIPE["sd"])
    p.add_argument("--forget-bias", type=float, default=RECIPE["forget_bias"])
    p.add_argument("--batch-size", type=positive(int), default=RECIPE["batch_size"])
    p.add_argument("--seed", type=int, default=RECIPE["seed"])
    p.add_argument("--corpus", choices=("austen", "tiny"), default=RECIPE["corpus"])
    p.add_argument("--publish", metavar="FOLDER", nargs="+",
                   help="copy these finished runs' logs, the fast one's kept model and a plot "
                        "into --out (e.g. docs/study) instead of training")
    return p


def config_from(args):
    """The run's configuration from parsed arguments, checked (StudyError)."""
    if not 0 <= args.final_fraction <= 1:
        raise StudyError("--final-fraction must be from 0 to 1, not %s" % args.final_fraction)
    if args.max_grad_norm < 0:
        raise StudyError("--max-grad-norm must be >= 0 (0: no clipping), not %s"
                         % args.max_grad_norm)
    if args.trainer == "torch":
        if args.optimizer not in TORCH_OPTIMIZERS:
            raise StudyError("--trainer torch supports --optimizer %s, not %s"
                             % (" or ".join(TORCH_OPTIMIZERS), args.optimizer))
        try:
            import torch  # noqa: F401
        except ImportError:
            raise StudyError("--trainer torch needs PyTorch, a benchmark-only dependency: "
                             "`make bench-torch` installs it") from None
    return dict(RECIPE, trainer=args.trainer, n_h=args.n_h, optimizer=args.optimizer,
                learning_rate=args.learning_rate, warmup=args.warmup,
                final_fraction=args.final_fraction, max_grad_norm=args.max_grad_norm,
                sd=args.sd, forget_bias=args.forget_bias, batch_size=args.batch_size,
                seed=args.seed, corpus=args.corpus)


def main(argv=None):
    args = parser().parse_args(argv)
    if args.publish:
        try:
            check_folder(args.out)
            for log in publish(args.publish, args.out):
                print("%s: best %.3f bpc, test %s; published to %s" % (
                    log["trainer"], log["best"]["valid_bpc"], log["test_bpc"], args.out))
        except (StudyError, OSError, KeyError, ValueError) as error:
            sys.exit("lstm_text.study --publish: %s" % error)
        return
    try:
        config = config_from(args)
        minutes = args.minutes if args.minutes or args.minibatches else 30.0
        study = Study(args.out, config, minutes=minutes if not args.minibatches else None,
                      minibatches=args.minibatches, valid_every=args.valid_every,
                      valid_every_minibatches=args.valid_every_minibatches, threads=args.threads)
        resumed = study.run.position["iteration"]
        print("%s: %s, budget %s%s; outputs in %s" % (
            config["trainer"], json.dumps(config, sort_keys=True), study.budget,
            ", resumed at minibatch %d" % resumed if resumed else "", study.out), flush=True)
        study.train()
    except (StudyError, CheckpointError, ParameterError) as error:
        sys.exit("lstm_text.study: %s" % error)
    history = study.run.history
    print("%s: %d minibatches, %.0f s; validation %.3f bpc at the end, best %.3f; test %s"
          % (config["trainer"], study.run.position["iteration"], study.run.position["seconds"],
             history["valid_bpc"][-1], study.best["valid_bpc"],
             "%.3f bpc" % study.test_bpc if study.test_bpc is not None else "-"))


if __name__ == "__main__":
    main()
