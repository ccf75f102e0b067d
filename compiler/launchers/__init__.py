"""Launchers: how a planned deployment is started (mpirun, Slurm, Kubernetes), one module each.

Each module turns a small, frozen description of the launch (its topology already decided by the
planner) into the files of the build folder's launch/, and checks that description for the
problems the L rules report.
"""
