using Microsoft.AspNetCore.StaticFiles;
using Microsoft.Extensions.FileProviders;

namespace PublishingPoint.Server.Admin;

/// <summary>
/// The operator dashboard through ASP.NET Core's static-file middleware: <c>/dashboard</c> is the page,
/// <c>/dashboard/{file}</c> its ES modules, CSS and <c>lib/hls.min.js</c>, from the <c>dashboard</c> folder the build
/// copies next to the server's dll (ETag, Last-Modified, ranges and HEAD as the framework does them). The files are
/// public and carry no data: everything the page shows comes from /api, which asks for the operator credential.
/// Answers are <c>Cache-Control: no-cache</c>, so an upgraded server is picked up at once; only the page's own kinds
/// of file are served.
/// </summary>
internal static class DashboardFiles
{
    public const string Route = "/dashboard";

    public static string DefaultRoot => Path.Combine(AppContext.BaseDirectory, "dashboard");

    /// <summary>A branch of the pipeline for /dashboard, ahead of routing (which would hand the path to the point router).</summary>
    public static void Use(IApplicationBuilder app, string root)
    {
        IFileProvider files = Directory.Exists(root) ? new PhysicalFileProvider(root) : new NullFileProvider();
        var types = new FileExtensionContentTypeProvider(new Dictionary<string, string>(StringComparer.OrdinalIgnoreCase)
        {
            [".html"] = "text/html; charset=utf-8",
            [".js"] = "text/javascript; charset=utf-8",
            [".css"] = "text/css; charset=utf-8",
            [".svg"] = "image/svg+xml",
            [".png"] = "image/png",
            [".ico"] = "image/x-icon",
        });
        app.Map(Route, branch =>
        {
            branch.Use((context, next) =>
            {
                var rest = context.Request.Path.Value;
                if (rest == "/")
                {
                    // the page's links are relative to /dashboard (no slash)
                    context.Response.Redirect(context.Request.PathBase.Value ?? Route);
                    return Task.CompletedTask;
                }

                if (string.IsNullOrEmpty(rest))
                {
                    context.Request.Path = "/index.html";
                }

                return next(context);
            });
            branch.UseStaticFiles(new StaticFileOptions
            {
                FileProvider = files,
                ContentTypeProvider = types,
                OnPrepareResponse = static file =>
                {
                    file.Context.Response.Headers.CacheControl = "no-cache";
                    file.Context.Response.Headers.XContentTypeOptions = "nosniff";
                    // Never inside another site's frame: with no key, a framed dashboard on loopback acts as the operator.
                    file.Context.Response.Headers.XFrameOptions = "DENY";
                    file.Context.Response.Headers.ContentSecurityPolicy = "frame-ancestors 'none'";
                },
            });
        });
    }
}
