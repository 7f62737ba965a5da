using Microsoft.Playwright;

namespace PublishingPoint.Server.Tests.Infrastructure;

/// <summary>A page that plays a Smooth Manifest with dash.js and its Smooth Streaming support, noting every player error.</summary>
public static class DashJsSmoothPage
{
    public static Dictionary<string, byte[]> Scripts() => new()
    {
        ["dash.all.min.js"] = Chromium.NodeModule("dashjs", "dist/modern/umd/dash.all.min.js"),
        ["dash.mss.min.js"] = Chromium.NodeModule("dashjs", "dist/modern/umd/dash.mss.min.js"),
    };

    public static string Html(Uri manifest) => $$"""
        <!doctype html>
        <video id="v" muted autoplay playsinline></video>
        <script src="dash.all.min.js"></script>
        <script src="dash.mss.min.js"></script>
        <script>
          window.fatal = [];
          const player = dashjs.MediaPlayer().create();
          player.updateSettings({ debug: { logLevel: dashjs.Debug.LOG_LEVEL_WARNING } });
          player.on(dashjs.MediaPlayer.events.ERROR, e => {
            const detail = (e.error && (e.error.code + ' ' + e.error.message)) || JSON.stringify(e);
            console.log('dash error ' + detail);
            window.fatal.push(detail);
          });
          player.initialize(document.getElementById('v'), '{{manifest}}', true);
        </script>
        """;

    /// <summary>Polls the page until its video reaches <paramref name="seconds"/>, an error, or the deadline: where it got and the errors.</summary>
    public static async Task<(double Time, string Errors)> PlayUntilAsync(IPage page, double seconds, TimeSpan deadline)
    {
        ArgumentNullException.ThrowIfNull(page);
        var until = DateTime.UtcNow + deadline;
        double time = 0;
        var errors = string.Empty;
        while (DateTime.UtcNow < until && time < seconds && errors.Length == 0)
        {
            await Task.Delay(250);
            time = await page.EvaluateAsync<double>("document.getElementById('v').currentTime");
            errors = await page.EvaluateAsync<string>("window.fatal.join('; ')");
        }

        return (time, errors);
    }
}
