"""Independent physics references for validating wideshot (tests only).

Nothing in this package imports ``wideshot``: every number here is derived from the shared SPEC.md
(restated in docs/conventions.md) with numpy, scipy and miepython alone, so that a comparison of the
package with these references is a comparison of two independent implementations.

Modules
-------
spec                    constants, detector grid, quaternion -> matrix, icosahedron (SPEC)
polyhedron_form_factor  analytic Born transform of a convex polyhedron (faces -> edges)
literal_msft            the paper's voxel MSFT, literally (192^3 grid, 512 zero-padded FFTs)
absorbing_polyhedron    exact continuum absorbing/refractive model of a convex polyhedron
                        (front-face cells, complex wave vectors; no voxels)
sphere_msft             exact continuum MSFT of a sphere (1D Hankel quadrature)
shape_solids            the five shape families of SPEC (half-spaces -> vertices, unit
                        circumradius, closed-form volumes)
mie                     Mie far field of a sphere on the SPEC detector (miepython)
"""
