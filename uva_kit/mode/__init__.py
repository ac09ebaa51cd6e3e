"""Task modes (slot ``mode``): declarative descriptions of what fills each stream and which losses apply."""
