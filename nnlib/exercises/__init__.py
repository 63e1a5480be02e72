"""Check functions that lessons call after each exercise. They print ✅, ❌ with a hint, or ⏳; never raise
(unless NNLIB_GRADING=1, when ❌ and ⏳ raise AssertionError so that autograders score them)."""

from ._core import GRADING_ENV, Case, CheckFailed, check_cases, check_with_diagnosis, evaluate, grading, grading_mode
from .lesson01 import check_and_gate, check_perceptron_predict, check_perceptron_update
from .lesson02 import check_leaky_relu, check_leaky_relu_prime, check_sigmoid_prime, check_softmax, check_tanh_prime
from .lesson03 import check_dE_dw1, check_dE_dw5, check_output_delta, check_update_all
from .lesson04 import check_critical_learning_rate, check_minibatch_step, check_momentum_update
from .lesson05 import check_dropout_backward, check_dropout_forward, check_l2_gradient
from .lesson06 import check_conv_output_size, check_correlate2d, check_maxpool_backward
from .lesson07 import check_bptt_step, check_rnn_step
from .lesson08 import check_gru_num_parameters, check_gru_step, check_lstm_cell_update
from .lesson09 import check_count_trainable, check_freeze, check_new_head
from .lesson10 import check_attention_weights, check_causal_mask, check_scaled_scores, check_split_heads
