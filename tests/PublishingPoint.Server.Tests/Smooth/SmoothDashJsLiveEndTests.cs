using System.Globalization;
using Microsoft.Playwright;
using PublishingPoint.Server.Tests.Infrastructure;

namespace PublishingPoint.Server.Tests.Smooth;

/// <summary>
/// dash.js's Smooth Streaming support reads a live Manifest once and learns of every later fragment from the tfrf box
/// of the fragments it loads. When the encoder ended, the point's fragments were served without it: a viewer watching
/// live stopped short of the end, with "Missing tfrf in live media segment" for each fragment (a review's finding;
/// viewers already watching must not be interrupted). It plays to the last fragment now.
/// </summary>
public sealed class SmoothDashJsLiveEndTests
{
    private const string Point = "live/mssend.isml";

    [Fact]
    public async Task DashJsWatchingLive_PlaysToTheLastFragment_AfterTheEncoderEnds()
    {
        await using var server = await RunningServer.StartAsync();
        using var stop = new CancellationTokenSource(TimeSpan.FromSeconds(90));
        var push = Encoder.PushSmoothAsync(server.Url($"{Point}/Streams(a)"), new EncoderSettings { VideoKbps = 300, AudioKbps = 0, Seconds = 16 }, stop.Token);
        await Eventually.WaitUntilAsync(async () =>
        {
            using var response = await server.Http.GetAsync($"{Point}/Manifest");
            return response.IsSuccessStatusCode
                && new SmoothManifestView(System.Xml.Linq.XDocument.Parse(await response.Content.ReadAsStringAsync()), string.Empty).ChunkTimes("video").Length >= 3;
        }, "the live manifest never listed three fragments", TimeSpan.FromSeconds(30));

        var scripts = DashJsSmoothPage.Scripts();
        using var playwright = await Playwright.CreateAsync();
        await using var browser = await Chromium.LaunchAsync(playwright);
        var (page, log) = await Chromium.OpenPlayerPageAsync(browser, server.BaseUrl, scripts, DashJsSmoothPage.Html(server.Url($"{Point}/Manifest")));
        var refused = new EventLineCollection(); // for the failure's description
        page.Response += (_, response) =>
        {
            if (response.Status >= 400)
            {
                refused.Add($"{response.Status} {response.Url}");
            }
        };

        var pushed = await push;
        Assert.True(pushed.ExitCode == 0, Tool.Describe(pushed));
        var vod = await SmoothManifestView.FetchVodAsync(server.Http, $"{Point}/Manifest");
        var times = vod.ChunkTimes("video");
        var end = (times[^1] + vod.ChunkDurations("video")[^1]) / 10_000_000.0;

        // Into the last fragment, however far behind the live edge the player was when the encoder ended.
        var (time, errors) = await DashJsSmoothPage.PlayUntilAsync(page, end - 1, TimeSpan.FromSeconds(40));

        var describe = string.Create(CultureInfo.InvariantCulture, $"currentTime {time:0.00} of {end:0.00} s, errors [{errors}], refused [{string.Join(", ", refused)}], console:\n{string.Join('\n', log)}");
        Assert.True(time >= end - 1 && errors.Length == 0, describe);
    }
}
