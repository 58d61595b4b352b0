"""How the receptionist talks: splitting replies into speakable sentences, and the offline responder."""
