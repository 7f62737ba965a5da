using Microsoft.AspNetCore.StaticFiles;
using Microsoft.Extensions.FileProviders;
using Microsoft.Net.Http.Headers;

namespace PublishingPoint.Server.Admin;

/// <summary>
/// The operator dashboard: <c>/dashboard</c> is the page, <c>/dashboard/{file}</c> its ES modules, CSS and
/// <c>lib/hls.min.js</c>, all from the <c>dashboard</c> folder the build copies next to the server's dll. The files
/// are public and carry no data: everything the page shows comes from /api, which asks for the operator credential.
/// Responses are <c>Cache-Control: no-cache</c> with an ETag, so an upgraded server is picked up at once.
/// </summary>
internal static class DashboardFiles
{
    public const string Route = "/dashboard";

    private static readonly FileExtensionContentTypeProvider _types = new();
    private static readonly HashSet<string> _served = new(StringComparer.OrdinalIgnoreCase) { ".html", ".js", ".css", ".svg", ".png", ".ico" };

    public static string DefaultRoot => Path.Combine(AppContext.BaseDirectory, "dashboard");

    public static void Map(IEndpointRouteBuilder endpoints, string root)
    {
        IFileProvider files = Directory.Exists(root) ? new PhysicalFileProvider(root) : new NullFileProvider();
        string[] methods = [HttpMethods.Get, HttpMethods.Head];
        // the page's links are relative to /dashboard (no slash), so /dashboard/ is sent there
        endpoints.MapMethods(Route, methods, (HttpContext context) => context.Request.Path.Value?.EndsWith('/') == true
                ? Results.Redirect(context.Request.PathBase + Route)
                : Serve(context, files, "index.html"))
            .ExcludeFromDescription();
        endpoints.MapMethods(Route + "/{**file}", methods, (HttpContext context, string? file) => string.IsNullOrEmpty(file)
                ? Results.Redirect(context.Request.PathBase + Route)
                : Serve(context, files, file))
            .ExcludeFromDescription();
    }

    private static IResult Serve(HttpContext context, IFileProvider files, string file)
    {
        var info = files.GetFileInfo(file);
        if (!_served.Contains(Path.GetExtension(file)) || !info.Exists || info.IsDirectory || info.PhysicalPath is null)
        {
            return Results.Problem(statusCode: StatusCodes.Status404NotFound, title: "not found");
        }

        if (!_types.TryGetContentType(file, out var type))
        {
            type = "application/octet-stream";
        }

        if (type.StartsWith("text/", StringComparison.Ordinal))
        {
            type += "; charset=utf-8";
        }

        context.Response.Headers.CacheControl = "no-cache";
        context.Response.Headers.XContentTypeOptions = "nosniff";
        var modified = info.LastModified;
        var tag = new EntityTagHeaderValue($"\"{modified.UtcTicks:x}-{info.Length:x}\"");
        return Results.File(info.PhysicalPath, type, lastModified: modified, entityTag: tag);
    }
}
