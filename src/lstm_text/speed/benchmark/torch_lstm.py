"""The notebook's model in PyTorch (nn.LSTM + nn.Linear), from the same weights: the baseline.

PyTorch is a benchmark-only dependency (`make bench-torch` installs it). One class serves the
benchmark's row (c) and the study's second trainer (lstm_text.study): the same model (one LSTM
layer on one-hot characters, a softmax layer), started from fast_graph's fused parameter
values [W_out, b_out, W, U, b] (PyTorch's gate order i, f, g, o is the notebook's i, f, c, o;
its second bias b_hh stays 0, untrained), the same cost (cross-entropy summed over the predicted
characters of a batch, divided by the batch size) on the same (time, batch) arrays.
"""
import numpy

FUSED_NAMES = ("W_out", "b_out", "W", "U", "b")   # fast_graph's parameter order


class TorchLstm:
    """nn.LSTM + nn.Linear, loaded from and read back as fused NumPy values."""

    def __init__(self, fused_values, batch_size=100, threads=1):
        import torch
        torch.set_num_threads(int(threads))
        self.torch = torch
        w_out, _, w, u, _ = (numpy.asarray(value) for value in fused_values)
        self.dtype = {numpy.dtype("float32"): torch.float32,
                      numpy.dtype("float64"): torch.float64}[w.dtype]
        self.n_in, self.n_h, self.n_out = w.shape[0], u.shape[0], w_out.shape[1]
        self.batch_size = batch_size
        self.lstm = torch.nn.LSTM(self.n_in, self.n_h).to(self.dtype)
        self.linear = torch.nn.Linear(self.n_h, self.n_out).to(self.dtype)
        # The notebook has one bias per gate; PyTorch adds b_hh to b_ih. It stays 0, untrained,
        # so that an optimizer moves the bias as the notebook's does (not twice as fast).
        self.lstm.bias_hh_l0.requires_grad_(False)
        self.params = [self.lstm.weight_ih_l0, self.lstm.weight_hh_l0, self.lstm.bias_ih_l0,
                       self.linear.weight, self.linear.bias]
        self.set_values(fused_values)

    def set_values(self, fused_values):
        """Load [W_out, b_out, W, U, b] (fast_graph's layout)."""
        torch = self.torch
        w_out, b_out, w, u, b = (torch.from_numpy(numpy.array(value, copy=True))
                                 for value in fused_values)
        with torch.no_grad():
            self.lstm.weight_ih_l0.copy_(w.T)
            self.lstm.weight_hh_l0.copy_(u.T)
            self.lstm.bias_ih_l0.copy_(b)
            self.lstm.bias_hh_l0.zero_()
            self.linear.weight.copy_(w_out.T)
            self.linear.bias.copy_(b_out)

    def values(self):
        """The parameters as fused NumPy values [W_out, b_out, W, U, b]."""
        with self.torch.no_grad():
            lstm, linear = self.lstm, self.linear
            return [linear.weight.T.numpy().copy(), linear.bias.numpy().copy(),
                    lstm.weight_ih_l0.T.numpy().copy(), lstm.weight_hh_l0.T.numpy().copy(),
                    (lstm.bias_ih_l0 + lstm.bias_hh_l0).numpy().copy()]

    def cost(self, x, mask):
        """The notebook's cost of a minibatch: x (time, batch) integers, mask (time, batch)."""
        torch = self.torch
        x_t = torch.from_numpy(numpy.ascontiguousarray(x, dtype="int64"))
        inputs = torch.nn.functional.one_hot(x_t, self.n_in).to(self.dtype)
        weights = torch.from_numpy(numpy.ascontiguousarray(mask[1:])).to(self.dtype)
        hidden, _ = self.lstm(inputs)
        logits = self.linear(hidden[:-1]).reshape(-1, self.n_out)
        nll = torch.nn.functional.cross_entropy(logits, x_t[1:].reshape(-1), reduction="none")
        return (nll * weights.reshape(-1)).sum() / self.batch_size

    def evaluate_model(self, x, mask):
        with self.torch.no_grad():
            return float(self.cost(x, mask).item())

    def single_step(self, x_t, h, c):
        """[p (1 x n_out), h, c] after character x_t from state (h, c), as the notebook's."""
        torch = self.torch
        with torch.no_grad():
            inputs = torch.nn.functional.one_hot(torch.tensor([[int(x_t)]]), self.n_in)
            state = tuple(torch.from_numpy(numpy.array(v, dtype=numpy.float64))
                          .to(self.dtype).reshape(1, 1, -1) for v in (h, c))
            hidden, (h_t, c_t) = self.lstm(inputs.to(self.dtype), state)
            p = torch.softmax(self.linear(hidden[0]), dim=-1)
            return [p.numpy(), h_t.reshape(-1).numpy(), c_t.reshape(-1).numpy()]
