"""A class draws on phones; the teacher's screen shows how the network reads its handwriting."""
