namespace PublishingPoint.Server.Tests.Infrastructure;

/// <summary>
/// The page hls.js plays a stream in (hls.min.js beside it, see <see cref="Chromium.OpenPlayerPageAsync(Microsoft.Playwright.IBrowser, Uri, string, byte[], string)"/>):
/// a muted video that starts once the manifest is parsed, every error logged to the console and the fatal ones kept in
/// <c>window.fatal</c>.
/// </summary>
public static class HlsJsPage
{
    /// <param name="config">hls.js's configuration, as a JavaScript object.</param>
    /// <param name="script">More script, run before the source loads: it sees <c>hls</c> and <c>video</c>.</param>
    public static string Html(Uri source, string config = "{}", string script = "") => $$"""
        <!doctype html>
        <video id="v" muted autoplay playsinline></video>
        <script src="hls.min.js"></script>
        <script>
          window.fatal = [];
          const video = document.getElementById('v');
          const hls = new Hls({{config}});
          hls.on(Hls.Events.ERROR, (_, d) => { console.log('hls error ' + d.type + ' ' + d.details + ' fatal=' + d.fatal); if (d.fatal) window.fatal.push(d.details); });
          hls.on(Hls.Events.MANIFEST_PARSED, () => video.play().catch(e => window.fatal.push('play: ' + e)));
          {{script}}
          hls.loadSource('{{source}}');
          hls.attachMedia(video);
        </script>
        """;
}
