"""Reconstruction: diffraction images in, particle size and orientation out, with a quality check.

- :mod:`.api` — :func:`reconstruct` (SPEC images → radius, canonical quaternion, misfit, flag);
- :mod:`.quality` — the misfit threshold above which an answer is flagged, and its calibration;
- :mod:`.preparation` — detector frames → SPEC images and validity masks (geometry, scaling);
- :mod:`.sources` — files and folders (PNG, TIFF, NPY, HDF5/CXI) → a stream of frames;
- :mod:`.pipeline` — :func:`reconstruct_files`: inputs → CSV, JSON and Figure-5 panels.
"""
from wideshot.reconstruction.api import reconstruct
from wideshot.reconstruction.preparation import DetectorGeometry, prepare_frame
from wideshot.reconstruction.sources import Frame, find_inputs, iter_frames, load_mask

__all__ = ["DetectorGeometry", "Frame", "find_inputs", "iter_frames", "load_mask",
           "prepare_frame", "reconstruct"]
