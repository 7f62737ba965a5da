using System.Diagnostics;
using System.Globalization;
using System.Xml.Linq;
using Microsoft.Playwright;
using PublishingPoint.Server.Tests.Infrastructure;
using Xunit.Abstractions;

namespace PublishingPoint.Server.Tests.Dash;

/// <summary>
/// Low-latency DASH on the same chunks as LL-HLS: the MPD says availabilityTimeOffset and a ServiceDescription, the
/// segment being built is sent as it grows, and dash.js in low-latency mode plays close to the capture clock.
/// </summary>
[Collection(LatencyMeasurements.Name)]
public sealed class LowLatencyDashTests(ITestOutputHelper output)
{
    private const string Point = "lldash/ch1.isml";

    [Fact]
    public async Task DashJsInLowLatencyMode_PlaysTheGrowingSegment_WithinThreeSecondsOfTheCapture()
    {
        await using var server = await RunningServer.StartAsync();
        var push = Encoder.PushLowLatencyCmafAsync(server.Url($"{Point}/Streams(a)"), new EncoderSettings { VideoKbps = 500, Width = 480, Height = 270, Seconds = 30 });
        try
        {
            await Eventually.WaitUntilAsync(async () =>
            {
                using var response = await server.Http.GetAsync($"{Point}/manifest.mpd");
                return response.IsSuccessStatusCode && (await response.Content.ReadAsStringAsync()).Contains("<S ", StringComparison.Ordinal);
            }, "no MPD", TimeSpan.FromSeconds(30), TimeSpan.FromMilliseconds(250));
            var mpd = XDocument.Parse(await server.Http.GetStringAsync($"{Point}/manifest.mpd"));
            XNamespace ns = "urn:mpeg:dash:schema:mpd:2011";
            Assert.Contains("low-latency", (string?)mpd.Root!.Attribute("profiles"), StringComparison.Ordinal);
            Assert.NotNull(mpd.Root.Element(ns + "ServiceDescription")?.Element(ns + "Latency")?.Attribute("target"));
            Assert.All(mpd.Descendants(ns + "SegmentTemplate"), t =>
            {
                Assert.InRange(double.Parse((string)t.Attribute("availabilityTimeOffset")!, CultureInfo.InvariantCulture), 0.5, 5);
                Assert.Equal("false", (string?)t.Attribute("availabilityTimeComplete"));
            });

            using var playwright = await Playwright.CreateAsync();
            await using var browser = await Chromium.LaunchAsync(playwright);
            var mpdUrl = server.Url($"{Point}/manifest.mpd");
            var (page, log) = await Chromium.OpenPlayerPageAsync(browser, mpdUrl, "dash.all.min.js", Chromium.NodeModule("dashjs", "dist/modern/umd/dash.all.min.js"), Page(mpdUrl));
            var latencies = new List<double>();
            var clock = Stopwatch.StartNew();
            var errors = string.Empty;
            while (clock.Elapsed < TimeSpan.FromSeconds(22) && latencies.Count < 40 && errors.Length == 0)
            {
                await Task.Delay(250);
                var state = await page.EvaluateAsync<double[]>("[document.getElementById('v').currentTime, player.getCurrentLiveLatency() || 0]");
                if (state[0] > 2 && state[1] > 0)
                {
                    latencies.Add(state[1]);
                }

                errors = await page.EvaluateAsync<string>("window.fatal.join('; ')");
            }

            latencies.Sort();
            var median = latencies.Count == 0 ? double.NaN : latencies[latencies.Count / 2];
            var describe = string.Create(CultureInfo.InvariantCulture,
                $"dash.js live latency median {median:0.00} s over {latencies.Count} samples; errors [{errors}]; console:\n{string.Join('\n', log.TakeLast(20))}");
            output.WriteLine(describe);
            Assert.True(errors.Length == 0 && latencies.Count >= 20, describe);
            Assert.True(median <= 3.0, describe);
        }
        finally
        {
            var pushed = await push;
            Assert.True(pushed.ExitCode == 0, Tool.Describe(pushed));
        }
    }

    private static string Page(Uri mpd) => $$"""
        <!doctype html>
        <video id="v" muted autoplay playsinline></video>
        <script src="dash.all.min.js"></script>
        <script>
          window.fatal = [];
          const player = dashjs.MediaPlayer().create();
          player.updateSettings({ debug: { logLevel: dashjs.Debug.LOG_LEVEL_WARNING }, streaming: { liveCatchup: { enabled: true } } });
          player.on(dashjs.MediaPlayer.events.ERROR, e => {
            const detail = (e.error && (e.error.code + ' ' + e.error.message)) || JSON.stringify(e);
            console.log('dash error ' + detail);
            window.fatal.push(detail);
          });
          player.initialize(document.getElementById('v'), '{{mpd}}', true);
        </script>
        """;
}
