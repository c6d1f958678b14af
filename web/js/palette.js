// palette.js - colours that people with the common colour-vision deficiencies can tell apart
// (Okabe & Ito's eight), ordered by contrast on white; past eight, dash patterns tell series apart.

export const OKABE_ITO = [
  '#0072B2', // blue
  '#D55E00', // vermillion
  '#009E73', // bluish green
  '#CC79A7', // reddish purple
  '#E69F00', // orange
  '#56B4E9', // sky blue
  '#000000', // black
  '#C9B400', // yellow, darkened to be visible on white
];

const DASHES = [null, [8, 4], [2, 3], [10, 3, 2, 3]];

/** The colour and dash pattern of series i (0-based). */
export function seriesStyle(i) {
  return {
    color: OKABE_ITO[i % OKABE_ITO.length],
    dash: DASHES[Math.floor(i / OKABE_ITO.length) % DASHES.length],
  };
}

// A perceptually uniform sequential scale for the heatmap (viridis' anchor colours): readable
// in grey scale and with deuteranopia or protanopia.
const RAMP = [
  [0x44, 0x01, 0x54],
  [0x3b, 0x52, 0x8b],
  [0x21, 0x91, 0x8c],
  [0x5e, 0xc9, 0x62],
  [0xfd, 0xe7, 0x25],
];

/** t in [0, 1] -> {background, color} with a text colour that stays readable on it. */
export function rampColor(t) {
  const x = Math.max(0, Math.min(1, Number.isFinite(t) ? t : 0)) * (RAMP.length - 1);
  const i = Math.min(Math.floor(x), RAMP.length - 2);
  const f = x - i;
  const rgb = RAMP[i].map((c, k) => Math.round(c + (RAMP[i + 1][k] - c) * f));
  const lum = (0.2126 * rgb[0] + 0.7152 * rgb[1] + 0.0722 * rgb[2]) / 255;
  return {background: `rgb(${rgb.join(', ')})`, color: lum > 0.5 ? '#000' : '#fff'};
}
