"""What every figure shares: the column width and one colour-blind-safe palette.

The palette is Okabe and Ito's (2008), distinguishable under the common colour-vision
deficiencies; where colour carries meaning a figure adds a second cue (a marker, a
hatch or a label), so no reader depends on colour alone.
"""
WIDTH = 8.0  # inches: one book column

# Okabe-Ito, in the order streams use them: blue, vermillion, bluish green, orange,
# reddish purple, sky blue, yellow, black.
BLUE, VERMILLION, GREEN, ORANGE = '#0072B2', '#D55E00', '#009E73', '#E69F00'
PURPLE, SKY, YELLOW, BLACK = '#CC79A7', '#56B4E9', '#F0E442', '#000000'
GREY = '#7f7f7f'
STREAM_COLORS = (BLUE, VERMILLION, GREEN, ORANGE, PURPLE, SKY, YELLOW, BLACK)
# The second cue where colour marks something: hatches for bars and cells.
HATCHES = ('', '//', '..', 'xx', '\\\\')
NOT_READABLE_HATCH = '///'   # SNC heatmaps: cells a step could not read
STREAM_MARKERS = ('o', 's', '^', 'D', 'v', 'P', 'X', '*')  # the second cue beside each stream colour


def stream_color(stream):
    return STREAM_COLORS[stream % len(STREAM_COLORS)]


def stream_marker(stream):
    return STREAM_MARKERS[stream % len(STREAM_MARKERS)]

