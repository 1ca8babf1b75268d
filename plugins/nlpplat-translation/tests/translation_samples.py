"""A small English-German parallel sample (Multi30k-like captions, written for these tests)."""

SOURCES = [
    "A man rides a red bike down the street.",
    "Two dogs play in the snow.",
    "A woman in a blue dress is reading a book near the window.",
    "Children are playing football in the park on a sunny day.",
    "An old man sits on a bench.",
    "A girl with a hat smiles at the camera while holding 3 balloons.",
]
TARGETS = [
    "Ein Mann fährt mit einem roten Fahrrad die Straße hinunter.",
    "Zwei Hunde spielen im Schnee.",
    "Eine Frau in einem blauen Kleid liest ein Buch in der Nähe des Fensters.",
    "Kinder spielen an einem sonnigen Tag Fußball im Park.",
    "Ein alter Mann sitzt auf einer Bank.",
    "Ein Mädchen mit einem Hut lächelt in die Kamera und hält 3 Luftballons.",
]
