"""Synthetic floc videos in the 2022 hackathon layout, with exact continuous-geometry truth.

Entry points: :func:`flocshape.synth.config.resolve` (preset + knobs -> validated :class:`SynthConfig`) and
:func:`flocshape.synth.writer.generate` (write a data set); the CLI is ``datasets/synthesize.py``.
See ``docs/synth.md`` for the output contract, the labelling policy and every knob.
"""
