"""What every CloudGreet process needs: settings, logging, metrics, the Temporal connection, call prices.

Below everything but `domain/`: it imports no layer above it.
"""
