// The candle chart: TradingView Lightweight Charts (vendor/, the global LightweightCharts),
// filled from GET /v1/markets/{symbol}/candles, then kept by the candles.{symbol}.{interval}
// channel. Number() here is for drawing only; nothing drawn is sent back.

const UP = "#26a69a";
const DOWN = "#ef5350";

function decimals(step) {
  const fraction = String(step).split(".")[1] || "";
  return fraction.replace(/0+$/, "").length;
}

export class CandleChart {
  constructor(container) {
    const charts = globalThis.LightweightCharts;
    if (!charts) throw new Error("the chart library did not load");
    this.chart = charts.createChart(container, {
      autoSize: true,
      layout: {
        background: { type: "solid", color: "#10141c" },
        textColor: "#c9d1d9",
        // The library's logo is a <style> element, which this page's CSP refuses; the
        // attribution and the link to TradingView are in the page's footer instead.
        attributionLogo: false,
      },
      grid: { vertLines: { color: "#1c2230" }, horzLines: { color: "#1c2230" } },
      timeScale: { timeVisible: true, secondsVisible: false, borderColor: "#2a3242", rightOffset: 6, barSpacing: 10 },
      rightPriceScale: { borderColor: "#2a3242" },
      crosshair: { mode: 0 },
    });
    this.candles = this.chart.addSeries(charts.CandlestickSeries, {
      upColor: UP, downColor: DOWN, wickUpColor: UP, wickDownColor: DOWN, borderVisible: false,
    });
    this.volume = this.chart.addSeries(charts.HistogramSeries, {
      priceFormat: { type: "volume" },
      priceScaleId: "",
      lastValueVisible: false,
      priceLineVisible: false,
    });
    this.volume.priceScale().applyOptions({ scaleMargins: { top: 0.8, bottom: 0 } });
    this.bars = new Map(); // start (epoch s) -> bar
  }

  // The instrument's tick for the price axis.
  useTick(tickSize) {
    const precision = decimals(tickSize);
    this.candles.applyOptions({ priceFormat: { type: "price", precision, minMove: Number(tickSize) } });
  }

  // Bars as the API lists them (any order).
  reset(bars) {
    this.bars = new Map();
    for (const bar of bars) this.bars.set(Number(bar.start), bar);
    this.redraw();
    this.chart.timeScale().scrollToRealTime(); // the latest bars, right of centre
  }

  update(bar) {
    const start = Number(bar.start);
    const last = Math.max(-Infinity, ...this.bars.keys());
    this.bars.set(start, bar);
    if (start >= last) {
      this.candles.update(this.point(bar));
      this.volume.update(this.volumePoint(bar));
    } else {
      this.redraw(); // an older bar changed: draw them all again
    }
  }

  redraw() {
    const sorted = [...this.bars.entries()].sort((a, b) => a[0] - b[0]).map(([, bar]) => bar);
    this.candles.setData(sorted.map((bar) => this.point(bar)));
    this.volume.setData(sorted.map((bar) => this.volumePoint(bar)));
  }

  point(bar) {
    return {
      time: Number(bar.start),
      open: Number(bar.open),
      high: Number(bar.high),
      low: Number(bar.low),
      close: Number(bar.close),
    };
  }

  volumePoint(bar) {
    const up = Number(bar.close) >= Number(bar.open);
    return { time: Number(bar.start), value: Number(bar.volume), color: up ? "#26a69a66" : "#ef535066" };
  }
}
