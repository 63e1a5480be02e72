"""Check functions that lessons call after each exercise. They print ✅, ❌ with a hint, or ⏳; never raise
(unless NNLIB_GRADING=1, when ❌ and ⏳ raise AssertionError so that autograders score them)."""

from ._core import GRADING_ENV, Case, CheckFailed, check_cases, check_with_diagnosis, evaluate, grading, grading_mode
from .lesson01 import (
    check_and_gate,
    check_perceptron_predict,
    check_perceptron_update,
    check_train_perceptron,
    check_xor_mlp,
)
from .lesson02 import (
    check_leaky_relu,
    check_leaky_relu_prime,
    check_maxout_backward,
    check_my_elu,
    check_my_sigmoid,
    check_sigmoid_prime,
    check_softmax,
    check_softmax_backward,
    check_tanh_prime,
)
from .lesson03 import (
    check_dE_dw1,
    check_dE_dw5,
    check_linear_backward,
    check_linear_forward,
    check_mlp_backprop,
    check_output_delta,
    check_squared_error_grad,
    check_update_all,
)
from .lesson04 import (
    check_critical_learning_rate,
    check_minibatch_step,
    check_minibatches,
    check_momentum_update,
    check_my_adam,
    check_my_sgd,
    check_svrg_epoch,
)
from .lesson05 import (
    check_dropout_backward,
    check_dropout_forward,
    check_early_stopping,
    check_l1_gradient,
    check_l2_gradient,
    check_my_dropout,
    check_proximal_l1_step,
)
from .lesson06 import (
    check_col2im,
    check_conv2d_backward,
    check_conv2d_forward,
    check_conv_output_size,
    check_correlate2d,
    check_maxpool_backward,
)
from .lesson07 import (
    check_bptt_step,
    check_clip_grad_norm,
    check_rnn_layer,
    check_rnn_step,
    check_temperature_softmax,
    check_truncated_bptt,
)
from .lesson08 import (
    check_gru_num_parameters,
    check_gru_step,
    check_gru_step_backward,
    check_lstm_cell,
    check_lstm_cell_update,
    check_open_forget_gate,
)
from .lesson09 import check_count_trainable, check_extract_features, check_freeze, check_new_head, check_transfer
from .lesson10 import (
    check_attention_backward,
    check_attention_forward,
    check_attention_weights,
    check_block_backward,
    check_block_forward,
    check_causal_mask,
    check_merge_heads,
    check_post_norm_backward,
    check_scaled_scores,
    check_split_heads,
)
from .lesson11 import (
    check_beam_search,
    check_cross_attention_block,
    check_cross_attention_weights,
    check_greedy_decode,
    check_shift_right,
)
