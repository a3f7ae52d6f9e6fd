# SPDX-License-Identifier: Apache-2.0
# SPDX-FileCopyrightText: Copyright contributors to the vLLM project

from .inc import INCConfig

__all__ = ["INCConfig"]
